import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open, startRig, type Rig } from './helpers.js';

// Issue 14.7 through the real socket: the request `message` is bytes (PHP strings are), decoded
// by the protocol that reads it, as the stock daemon does.

/** A request frame whose message is the given bytes, as PHP's serialize() writes a byte string. */
function bytesLine(contentType: string, message: Buffer): string {
  const head = Buffer.from(`a:2:{s:12:"content_type";s:${contentType.length}:"${contentType}";s:7:"message";s:${message.length}:"`, 'latin1');
  return Buffer.concat([head, message, Buffer.from('";}', 'latin1')]).toString('base64') + '\r\n';
}

const xmlEcho = (text: string, decl: string) => `${decl}<methodCall><methodName>test.echo</methodName><params><param><value><string>${text}</string></value></param></params></methodCall>`;

describe('comodojo - payload decoding as the stock daemon', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig();
  });
  afterAll(async () => {
    await rig.stop();
  });

  it('comodojo - 14.7: an XML request declared ISO-8859-1 is decoded as such (café comes back as café)', async () => {
    const client = await open(rig.socket);
    client.write(bytesLine('text/xml', Buffer.from(xmlEcho('caf\xe9', '<?xml version="1.0" encoding="ISO-8859-1"?>'), 'latin1')));
    expect((await client.response()).message).toContain('<string>café</string>');
    client.close();
  });

  it('comodojo - 14.7: invalid UTF-8 is -32700 in XML and in JSON, not replaced', async () => {
    const client = await open(rig.socket);
    const bad = Buffer.from([0x63, 0x61, 0x66, 0xc3, 0x28]);
    client.write(bytesLine('text/xml', Buffer.concat([Buffer.from(xmlEcho('', '<?xml version="1.0"?>').replace('</string>', '')), bad])));
    expect((await client.response()).message).toContain('<int>-32700</int>');
    const json = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","method":"test.echo","params":["'), bad, Buffer.from('"],"id":1}')]);
    client.write(bytesLine('application/json', json));
    expect(JSON.parse((await client.response()).message ?? '')).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
    client.close();
  });

  it('comodojo - 14.7: an undefined entity is -32700 over the socket', async () => {
    const client = await open(rig.socket);
    client.write(bytesLine('text/xml', Buffer.from(xmlEcho('&foo;', '<?xml version="1.0"?>'))));
    expect((await client.response()).message).toContain('<int>-32700</int>');
    client.close();
  });
});
