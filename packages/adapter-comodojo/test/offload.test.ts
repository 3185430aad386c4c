import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sig } from '../src/index.js';
import { encodeFault, encodeResponse, encodeSuccess, holdDecodes, OFFLOAD_BYTES } from '../src/internal.js';
import { captureLogger, open, requestLine, startRig, type Rig } from './helpers.js';

/**
 * Issue 13.8: frames of OFFLOAD_BYTES or more are decoded by the decode worker. These tests
 * hold the worker's result back (holdDecodes) to see, as events, that other connections are
 * answered while a large frame is out of the event loop's hands, and that its answer is the
 * same bytes the event loop's own decoding gives.
 */
describe('comodojo - large frames are decoded off the event loop', () => {
  let rig: Rig;
  const logger = captureLogger();
  beforeAll(async () => {
    rig = await startRig({ logger });
  });
  afterAll(async () => {
    await rig.stop();
  });

  const text = 'x&<é'.repeat(OFFLOAD_BYTES / 2);
  const xmlEcho = (message: string) => `<?xml version="1.0"?><methodCall><methodName>test.echo</methodName><params><param><value><string>${message.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</string></value></param></params></methodCall>`;

  it('comodojo - 13.8: a large XML-RPC frame is answered exactly, and small requests on other connections are answered while it is in the worker', async () => {
    const big = await open(rig.socket);
    const small = await open(rig.socket);
    const hold = holdDecodes();
    const line = requestLine('text/xml', xmlEcho(text));
    expect(line.length).toBeGreaterThan(OFFLOAD_BYTES);
    big.write(line);
    await hold.arrived;
    // The large frame is decoded and waits on the hold: the event loop still answers everyone else.
    expect(JSON.parse((await small.call('application/json', JSON.stringify({ jsonrpc: '2.0', method: 'test.echo', params: ['json meanwhile'], id: 1 }))).message ?? '').result).toBe('json meanwhile');
    expect((await small.call('text/xml', xmlEcho('xml meanwhile'))).message).toBe(encodeSuccess('xml meanwhile'));
    expect(big.lines).toEqual([]);
    hold.release();
    expect(await big.nextLine(30_000)).toBe(encodeResponse({ status: true, message: encodeSuccess(text) }));
    big.close();
    small.close();
  });

  it('comodojo - 13.8: through the worker, a large JSON-RPC batch past the cap, bad XML and bad base64 get the replies and log lines of small ones', async () => {
    const client = await open(rig.socket);
    const before = logger.lines.length;
    const hold = holdDecodes();
    const batch = JSON.stringify(Array.from({ length: 1001 }, (_, id) => ({ jsonrpc: '2.0', method: 'test.echo', params: ['p'.repeat(300)], id })));
    client.write(requestLine('application/json', batch));
    client.write(requestLine('text/xml', `${xmlEcho(text)}<oops>`));
    client.write(`${'%'.repeat(OFFLOAD_BYTES)}\r\n`);
    await hold.arrived;
    hold.release();
    expect(JSON.parse((await client.response(30_000)).message ?? '')).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request' } });
    expect((await client.response(30_000)).message).toBe(encodeFault(-32700, 'Parse error'));
    expect(await client.response(30_000)).toEqual({ status: false, message: 'Bad request frame: frame is not base64' });
    expect(logger.lines.slice(before).map((l) => l.message)).toEqual([
      expect.stringContaining('JSON-RPC batch of 1001 calls (at most 1000)'),
      expect.stringContaining('XML-RPC: '),
      expect.stringContaining('not base64'),
    ]);
    client.close();
  });

  it('comodojo - 13.8: large requests no method would run for are answered from the worker with the replies of small ones; a method added later is found', async () => {
    const client = await open(rig.socket);
    const arrayOf = (item: string, count: number) => `<param><value><array><data>${`<value><string>${item}</string></value>`.repeat(count)}</data></array></value></param>`;
    const xmlCall = (method: string, params: string) => `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params}</params></methodCall>`;
    const pairs: [string, string, string][] = [
      ['text/xml', xmlCall('test.echo', arrayOf('x'.repeat(1000), 300)), xmlCall('test.echo', arrayOf('x', 1))],
      ['text/xml', xmlCall('no.such', arrayOf('x'.repeat(1000), 300)), xmlCall('no.such', '')],
      ['application/json', JSON.stringify({ jsonrpc: '2.0', method: 'no.such', params: ['y'.repeat(300_000)], id: 7 }), JSON.stringify({ jsonrpc: '2.0', method: 'no.such', params: [], id: 7 })],
      ['application/json', JSON.stringify({ jsonrpc: '2.0', method: 'test.echo', params: ['y'.repeat(300_000), 1], id: 8 }), JSON.stringify({ jsonrpc: '2.0', method: 'test.echo', params: [], id: 8 })],
    ];
    for (const [type, large, small] of pairs) {
      expect(requestLine(type, large).length).toBeGreaterThan(OFFLOAD_BYTES);
      const fromWorker = await client.call(type, large);
      expect(fromWorker).toEqual(await client.call(type, small));
      expect(fromWorker.status).toBe(true);
    }
    // The worker started with the methods of that time; one added now must not be refused as unknown.
    rig.adapter.methods.add({ name: 'test.late', description: null, signatures: [sig('int', ['text', 'string'])], handler: (args) => String(args['text']).length });
    expect(JSON.parse((await client.call('application/json', JSON.stringify({ jsonrpc: '2.0', method: 'test.late', params: ['z'.repeat(300_000)], id: 9 }))).message ?? '').result).toBe(300_000);
    client.close();
  });

  it('comodojo - 13.8: a large line of whitespace alone is a hangup, as a blank line is: no reply, the connection closes', async () => {
    const client = await open(rig.socket);
    client.write(`${' \t'.repeat(OFFLOAD_BYTES)}\r\n`);
    await client.waitClosed(15_000);
    expect(client.lines).toEqual([]);
  });
});
