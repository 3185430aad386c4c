import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { checkUpgrade, hostUnrebindable, originAllowed, presentedToken, tokenMatches } from './auth.js';

function request(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}
const url = (query = '') => new URL(`http://127.0.0.1:8080/ws${query}`);

describe('ws auth - upgrade checks', () => {
  it('ws auth - compares tokens through fixed-length digests (any length, no early exit)', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abc', 'abd')).toBe(false);
    expect(tokenMatches('', 'abc')).toBe(false);
    expect(tokenMatches('x'.repeat(5000), 'abc')).toBe(false);
  });

  it('ws auth - takes the token from the Authorization header, then a bearer subprotocol, then ?token=', () => {
    expect(presentedToken(request({ authorization: 'Bearer h', 'sec-websocket-protocol': 'bearer.p' }), url('?token=q'))).toBe('h');
    expect(presentedToken(request({ 'sec-websocket-protocol': 'patchbay.v1, bearer.p' }), url('?token=q'))).toBe('p');
    expect(presentedToken(request({}), url('?token=q'))).toBe('q');
    expect(presentedToken(request({ authorization: 'Basic Zm9v' }), url())).toBeUndefined();
  });

  it('ws auth - allows no Origin (not a browser), the same host, listed origins; refuses others and garbage', () => {
    expect(originAllowed(request({ host: '127.0.0.1:8080' }), undefined)).toBe(true);
    expect(originAllowed(request({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8080' }), undefined)).toBe(true);
    expect(originAllowed(request({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:9999' }), undefined)).toBe(false);
    expect(originAllowed(request({ host: '127.0.0.1:8080', origin: 'null' }), undefined)).toBe(false);
    expect(originAllowed(request({ host: 'gw:8080', origin: 'https://dash.example' }), ['https://dash.example/'])).toBe(true);
    expect(originAllowed(request({ host: 'gw:8080', origin: 'https://other.example' }), ['*'])).toBe(true);
  });

  it('ws auth - checks the origin before the token and names what is wrong', () => {
    const policy = { token: 't', allowedOrigins: undefined };
    expect(checkUpgrade(request({ host: 'a:1', origin: 'http://b:1', authorization: 'Bearer t' }), url(), policy)).toMatchObject({ status: 403 });
    expect(checkUpgrade(request({ host: 'a:1' }), url(), policy)).toMatchObject({ status: 401, reason: expect.stringMatching(/token is required/) });
    expect(checkUpgrade(request({ host: 'a:1' }), url('?token=t'), policy)).toBeUndefined();
  });

  it('ws auth - with no token, a page must reach the gateway through localhost or an IP address (DNS rebinding)', () => {
    const open = { token: undefined, allowedOrigins: undefined };
    const page = (host: string) => request({ host, origin: `http://${host}` });
    // A rebinding page: its own name as both Host and Origin, which the same-host rule accepts.
    expect(checkUpgrade(page('evil.example:8080'), url(), open)).toMatchObject({ status: 403, reason: expect.stringMatching(/^origin "http:\/\/evil\.example:8080" is not allowed: .*DNS rebinding/) });
    for (const host of ['127.0.0.1:8080', '127.1.2.3:8080', 'localhost:8080', 'LOCALHOST:8080', '[::1]:8080', '192.168.1.10:8080', '[fe80::1]:8080', 'localhost']) {
      expect(checkUpgrade(page(host), url(), open), host).toBeUndefined();
    }
    // Not a browser (no Origin), a token, or an explicitly listed origin: the rule does not apply.
    expect(checkUpgrade(request({ host: 'gw.example:8080' }), url(), open)).toBeUndefined();
    expect(checkUpgrade(page('gw.example:8080'), url('?token=t'), { token: 't', allowedOrigins: undefined })).toBeUndefined();
    expect(checkUpgrade(page('gw.example:8080'), url(), { token: undefined, allowedOrigins: ['http://gw.example:8080'] })).toBeUndefined();
  });

  it('ws auth - only a bare localhost or IP literal, with an optional port, counts as unrebindable', () => {
    for (const host of ['localhost.evil.example', '127.0.0.1.evil.example', 'evil.example@127.0.0.1', '127.0.0.1/x', '[::1', 'localhost:8080:1', '', '0x7f.0.0.1']) {
      expect(hostUnrebindable(host), host).toBe(false);
    }
    expect(hostUnrebindable(undefined)).toBe(false);
  });
});
