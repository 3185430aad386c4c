import { spawn } from 'node:child_process';
import net from 'node:net';
import { isPatchbayError, ErrorCodes } from '@patchbay/core';
import { captureLogger } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { CallbackClient, loggableUrl } from '../src/internal.js';
import { PhpCallback } from './peer.js';
import { everything } from './rig.js';

/**
 * A TCP listener that never accepts, with its accept queue filled: the kernel then drops
 * further SYNs, so a connect hangs (what an unreachable callback host looks like).
 */
async function blackhole(): Promise<{ port: number; close: () => void; fillers: net.Socket[] }> {
  const script = 'import socket,sys\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()';
  const child = spawn('/usr/bin/python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  // Fill the accept queue (backlog 0 still admits one or two, depending on the kernel).
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 3; i++) {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    fillers.push(socket);
  }
  await new Promise<void>((resolve) => fillers[0]?.once('connect', () => resolve()));
  return {
    port,
    fillers,
    close: () => {
      for (const s of fillers) s.destroy();
      child.stdin.end();
      child.kill();
    },
  };
}

describe('jeedom - callback HTTP client (§4.4)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void> | void)();
  });

  it('jeedom - §10.31 a connect that hangs fails after the 0.5 s connect timeout, 3 attempts, then HOST_UNREACHABLE', async () => {
    const hole = await blackhole();
    cleanups.push(() => hole.close());
    const logger = captureLogger();
    const client = new CallbackClient({ callback: `http://127.0.0.1:${hole.port}/x.php`, apikey: 'k'.repeat(32), logger, retryDelayMs: 50 });
    cleanups.push(() => client.close());
    const error = await client.post('{"a": 1}').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isPatchbayError(error, ErrorCodes.HOST_UNREACHABLE)).toBe(true);
    expect(logger.find(/connect timeout after 500 ms" retry: [012]\/3/, 'error')).toHaveLength(3);
  });

  it('jeedom - §10.31 the response timeout is separate from the connect timeout (a short one fails a slow answer)', async () => {
    const peer = await PhpCallback.start();
    cleanups.push(() => peer.close());
    peer.control({ delayMs: 1500 });
    const logger = captureLogger();
    const client = new CallbackClient({ callback: peer.url, apikey: 'k'.repeat(32), logger, responseTimeoutMs: 300, retryDelayMs: 50, attempts: 1 });
    cleanups.push(() => client.close());
    await expect(client.post('{"a": 1}')).rejects.toThrow(/failed 1 attempts/);
    expect(logger.find(/no answer within 300 ms/, 'error')).toHaveLength(1);
  });

  it('jeedom - §8.4 a redirect is logged without its ?apikey=…, and the callback URL without its user:password', async () => {
    const peer = await PhpCallback.start();
    cleanups.push(() => peer.close());
    const apikey = 'SECRETKEY0123456789abcdef';
    const password = 'pa55-w0rd';
    const logger = captureLogger();
    const client = new CallbackClient({ callback: peer.url.replace('//', `//jeedom:${password}@`), apikey, logger, retryDelayMs: 0, attempts: 1 });
    cleanups.push(() => client.close());
    // Apache's HTTP→HTTPS redirect keeps the query; a relative one is resolved for the line.
    const redirects = [`https://127.0.0.1/plugins/patchbay/core/php/jeePatchbay.php?apikey=${apikey}`, `/elsewhere.php?apikey=${apikey}#x`];
    const errors: unknown[] = [];
    for (const location of redirects) {
      peer.control({ status: 302, location });
      errors.push(await client.post('{"a": 1}').catch((e: unknown) => e));
      errors.push(await client.test().catch((e: unknown) => e));
    }
    const lines = logger.find(/redirected the POST/, 'error');
    expect(lines.map((l) => l.fields.location)).toEqual(['https://127.0.0.1/plugins/patchbay/core/php/jeePatchbay.php', `http://127.0.0.1:${peer.port}/elsewhere.php`]);
    expect(client.target).toBe(peer.url);
    expect(errors.every((e) => isPatchbayError(e, ErrorCodes.HOST_UNREACHABLE))).toBe(true);
    for (const text of [everything(logger.lines), everything(errors)]) {
      expect(text).not.toContain(apikey);
      expect(text).not.toContain(password);
    }
  });

  it('jeedom - a URL that cannot be parsed is still logged without its query or user info', () => {
    expect(loggableUrl('http://user:pass@[bad/x.php?apikey=k#f')).toBe('http://[bad/x.php');
    expect(loggableUrl('http://user:pass@127.0.0.1:8080/x.php?apikey=k')).toBe('http://127.0.0.1:8080/x.php');
  });
});
