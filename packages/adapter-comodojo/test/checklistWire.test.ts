import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GREETER } from '../src/internal.js';
import { peer, requestLine, runPeer, startRig, type Rig } from './helpers.js';

// protocols/comodojo.md §8 items 1-17 (framing and JSON-RPC envelope), run against the PHP peer.

const json = (method: string, params: unknown[] = [], id: unknown = 1) => JSON.stringify({ jsonrpc: '2.0', method, params, id });

describe('comodojo - §8 framing and JSON-RPC (PHP peer)', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig();
  });
  afterAll(async () => {
    await rig.stop();
  });

  it('comodojo - §8.1 the first bytes are exactly the greeter line, sent before the client sends anything', async () => {
    // The peer reads the greeter before writing anything; check the exact bytes it saw.
    const raw = await runPeer({ socket: rig.socket, steps: [{ op: 'read', timeout_ms: 100 }] });
    expect((raw.out as { greeters: string[] }).greeters[0]).toBe(GREETER);
    expect(GREETER).toBe('YToyOntzOjY6InN0YXR1cyI7czo5OiJjb25uZWN0ZWQiO3M6NzoidmVyc2lvbiI7czozOiIxLjAiO30=\r\n');
  });

  it('comodojo - §8.2 and §8.8 every frame is base64 + CR LF of an array with exactly the keys status then message, status a PHP bool', async () => {
    const results = await peer(rig.socket, [
      { op: 'call', method: 'system.listMethods' },
      { op: 'call', protocol: 'xml', method: 'worker.list' },
      { op: 'raw', content_type: 'application/json', message: '{"jsonrpc":"2.0","method":"test.echo","params":["x"]}' },
      { op: 'writes', chunks: ['!!!not base64!!!\r\n'], expect: 1 },
    ]);
    // The peer itself refuses any frame without CR LF or with non-base64 text (client.php decode_frame).
    for (const r of results.slice(0, 3)) {
      expect(r.keys).toEqual(['status', 'message']);
      expect(r.raw).toMatch(/^a:2:\{s:6:"status";b:[01];s:7:"message";(N;|s:\d+:")/);
    }
    expect(results[3]?.frames?.[0]).toMatchObject({ status: false });
  });

  it('comodojo - §8.3 a request ending in CR LF and one ending in LF alone each get exactly one response', async () => {
    const crlf = requestLine('application/json', json('test.echo', ['crlf'], 1));
    const lf = crlf.replace(/\r\n$/, '\n');
    const [a, b, none] = await peer(rig.socket, [
      { op: 'writes', chunks: [crlf], expect: 1 },
      { op: 'writes', chunks: [lf], expect: 1 },
      { op: 'read', timeout_ms: 300 },
    ]);
    expect(JSON.parse(a?.frames?.[0]?.message ?? '')).toMatchObject({ result: 'crlf', id: 1 });
    expect(JSON.parse(b?.frames?.[0]?.message ?? '')).toMatchObject({ result: 'crlf', id: 1 });
    expect(none?.none).toBe(true);
  });

  it('comodojo - §8.4 two request frames in one write get two responses in order on the same connection', async () => {
    const two = requestLine('application/json', json('test.echo', ['first'], 1)) + requestLine('application/json', json('test.echo', ['second'], 2));
    const [r] = await peer(rig.socket, [{ op: 'writes', chunks: [two], expect: 2 }]);
    expect(r?.frames?.map((f) => JSON.parse(f.message ?? '').result)).toEqual(['first', 'second']);
  });

  it('comodojo - §8.5 a frame split across several writes, inside the base64 text, gets exactly one response', async () => {
    const line = requestLine('application/json', json('test.echo', ['split'], 5));
    const chunks = [line.slice(0, 3), line.slice(3, 17), line.slice(17, -1), line.slice(-1)];
    const [r, none] = await peer(rig.socket, [
      { op: 'writes', chunks, expect: 1 },
      { op: 'read', timeout_ms: 300 },
    ]);
    expect(JSON.parse(r?.frames?.[0]?.message ?? '')).toMatchObject({ result: 'split', id: 5 });
    expect(none?.none).toBe(true);
  });

  it('comodojo - §8.6 the connection stays open after a response and a second request on it is answered', async () => {
    const results = await peer(rig.socket, [
      { op: 'call', method: 'test.echo', params: ['one'], id: 1 },
      { op: 'call', method: 'test.echo', params: ['two'], id: 2 },
      { op: 'call', protocol: 'xml', method: 'test.echo', params: ['three'] },
    ]);
    expect(results.map((r) => r.decoded?.result ?? r.result)).toEqual(['one', 'two', 'three']);
  });

  it('comodojo - §8.7 a blank line gets no response frame (and the connection is closed)', async () => {
    const [r, after] = await peer(rig.socket, [
      { op: 'writes', chunks: [requestLine('application/json', json('test.echo', ['before'])) + '\r\n'], expect: 2, timeout_ms: 1000 },
      { op: 'read', timeout_ms: 300 },
    ]);
    expect(r?.frames).toHaveLength(1);
    expect(after?.none).toBe(true);
    expect(after?.eof).toBe(true);
  });

  it('comodojo - §8.9 multibyte UTF-8 is parsed by byte length and echoed byte-identical with a correct s:<bytes>: length', async () => {
    const text = 'é € 😀 ";\r\n a:2:{';
    const [j, x] = await peer(rig.socket, [
      { op: 'call', method: 'test.echo', params: [text], id: 9 },
      // XML normalises a literal CR LF to LF (XML 1.0 §2.11), so the XML leg carries LF only.
      { op: 'call', protocol: 'xml', method: 'test.echo', params: [text.replace('\r', '')] },
    ]);
    expect(j?.decoded?.result).toBe(text);
    expect(x?.result).toBe(text.replace('\r', ''));
    const message = j?.message ?? '';
    expect(j?.raw).toContain(`s:${Buffer.byteLength(message, 'utf8')}:"${message}";`);
  });

  it('comodojo - §8.10 a 512 KiB message is echoed intact under JSON and XML', async () => {
    const big = 'ab€'.repeat(180_000);
    const [j, x] = await peer(rig.socket, [
      { op: 'call', method: 'test.echo', params: [big], id: 10 },
      { op: 'call', protocol: 'xml', method: 'test.echo', params: [big] },
    ]);
    expect(Buffer.byteLength(big)).toBeGreaterThan(512 * 1024);
    expect(j?.decoded?.result).toBe(big);
    expect(x?.result).toBe(big);
  });

  it('comodojo - §8.11 content_type selects the protocol per frame: XML after JSON is answered in XML, on the same and on a new connection', async () => {
    const xml = '<?xml version="1.0"?><methodCall><methodName>test.echo</methodName><params><param><value><string>x</string></value></param></params></methodCall>';
    const results = await peer(rig.socket, [
      { op: 'raw', content_type: 'application/json', message: json('test.echo', ['j']) },
      { op: 'raw', content_type: 'text/xml', message: xml },
      { op: 'raw', content_type: '', message: xml },
      { op: 'raw', content_type: null, message: xml },
      { op: 'raw', content_type: 'text/xml', message: xml, connection: 'new' },
    ]);
    expect(results[0]?.decoded?.result).toBe('j');
    for (const r of results.slice(1)) expect(r.result).toBe('x');
  });

  it('comodojo - §8.12 system.listMethods starts with the ten reserved and daemon methods in order', async () => {
    const [r] = await peer(rig.socket, [{ op: 'raw', message: '{"jsonrpc":"2.0","method":"system.listMethods","id":1}' }]);
    expect(r?.decoded?.result.slice(0, 10)).toEqual([
      'system.getCapabilities',
      'system.listMethods',
      'system.methodHelp',
      'system.methodSignature',
      'system.multicall',
      'daemon.shutdown',
      'worker.list',
      'worker.status',
      'worker.pause',
      'worker.resume',
    ]);
  });

  it('comodojo - §8.13 the response id equals the request id for integer, float, string, "", 32-hex, 0 and boolean', async () => {
    const ids = [7, 1.5, 'abc', '', 'ffeeddccbbaa99887766554433221100', 0, true, false];
    const results = await peer(
      rig.socket,
      ids.map((id) => ({ op: 'raw', message: JSON.stringify({ jsonrpc: '2.0', method: 'test.echo', params: ['i'], id }) })),
    );
    expect(results.map((r) => JSON.parse(r.message ?? '').id)).toEqual(ids);
  });

  it('comodojo - §8.14 a notification gets a frame with status true and message null (N;)', async () => {
    const [r] = await peer(rig.socket, [{ op: 'call', method: 'test.echo', params: ['n'], notification: true }]);
    expect(r?.status).toBe(true);
    expect(r?.message).toBeNull();
    expect(r?.raw).toBe('a:2:{s:6:"status";b:1;s:7:"message";N;}');
  });

  it('comodojo - §8.15 §8.16 §8.17 batches: notifications left out, a batch of one stays an array, notifications only give null', async () => {
    const [three, one, none] = await peer(rig.socket, [
      { op: 'batch', calls: [{ method: 'test.echo', params: ['a'], id: 1 }, { method: 'test.echo', params: ['b'], id: null }, { method: 'test.echo', params: ['c'], id: 3 }] },
      { op: 'batch', calls: [{ method: 'test.echo', params: ['only'], id: 4 }] },
      { op: 'batch', calls: [{ method: 'test.echo', params: ['x'], id: null }, { method: 'test.echo', params: ['y'], id: null }] },
    ]);
    expect(three?.decoded.map((r: { id: number; result: string }) => [r.id, r.result])).toEqual([
      [1, 'a'],
      [3, 'c'],
    ]);
    expect(Array.isArray(one?.decoded)).toBe(true);
    expect(one?.decoded).toEqual([{ jsonrpc: '2.0', id: 4, result: 'only' }]);
    expect(none?.status).toBe(true);
    expect(none?.message).toBeNull();
  });
});
