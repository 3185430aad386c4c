import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peer, startRig, type Rig } from './helpers.js';

// protocols/comodojo.md §8 items 18-36, 39 and 42 (methods, XML-RPC, workers, encryption), against the PHP peer.

const call = (method: string, params: unknown, id: unknown = 1) => ({ op: 'raw', message: JSON.stringify({ jsonrpc: '2.0', method, params, id }) });
const xmlCall = (method: string, params: unknown[] = []) => ({ op: 'call', protocol: 'xml', method, params });
const error = (r: { decoded?: { error?: unknown } } | undefined) => r?.decoded?.error;

describe('comodojo - §8 methods and XML-RPC (PHP peer)', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ adapterOptions: { encryptionKey: 'sharedsecret' } });
  });
  afterAll(async () => {
    await rig.stop();
  });

  it('comodojo - §8.18 an unknown method gives -32601 Method not found in JSON and XML', async () => {
    const [j, x] = await peer(rig.socket, [call('no.such', []), xmlCall('no.such')]);
    expect(error(j)).toEqual({ code: -32601, message: 'Method not found' });
    expect(x?.fault).toMatchObject({ faultCode: -32601, faultString: 'Method not found' });
  });

  it('comodojo - §8.19 test.echo(string) with [5], [] or ["a","b"] gives -32602 Invalid params', async () => {
    const results = await peer(rig.socket, [call('test.echo', [5]), call('test.echo', []), call('test.echo', ['a', 'b']), xmlCall('test.echo', [5])]);
    for (const r of results.slice(0, 3)) expect(error(r)).toEqual({ code: -32602, message: 'Invalid params' });
    expect(results[3]?.fault?.faultCode).toBe(-32602);
  });

  it('comodojo - §8.20 signatures [["array"],["int","string"]] accept [] and ["x"] picking the right one; [1] gives -32602', async () => {
    const [none, one, bad] = await peer(rig.socket, [call('test.pick', []), call('test.pick', ['xyz']), call('test.pick', [1])]);
    expect(none?.decoded?.result).toEqual(['no-args']);
    expect(one?.decoded?.result).toBe(3);
    expect(error(bad)).toEqual({ code: -32602, message: 'Invalid params' });
  });

  it('comodojo - §8.21 an application error keeps code 4242 and "custom failure" in JSON and XML', async () => {
    const [j, x] = await peer(rig.socket, [call('test.fail', []), xmlCall('test.fail')]);
    expect(error(j)).toEqual({ code: 4242, message: 'custom failure' });
    expect(x?.fault).toMatchObject({ faultCode: 4242, faultString: 'custom failure' });
  });

  it('comodojo - §8.22 an unexpected exception gives -32603 Internal error with no exception text', async () => {
    const [j, x] = await peer(rig.socket, [call('test.crash', []), xmlCall('test.crash')]);
    expect(error(j)).toEqual({ code: -32603, message: 'Internal error' });
    expect(j?.message).not.toContain('secret');
    expect(x?.fault).toMatchObject({ faultCode: -32603, faultString: 'Internal error' });
  });

  it('comodojo - §8.23 invalid JSON gives -32700 with id null and status true', async () => {
    const [r, empty] = await peer(rig.socket, [
      { op: 'raw', message: '{"jsonrpc":"2.0","method":' },
      { op: 'raw', message: '' },
    ]);
    expect(r?.status).toBe(true);
    expect(r?.decoded).toEqual({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null });
    expect(empty?.decoded).toEqual({ jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null });
  });

  it('comodojo - §8.24 no jsonrpc member or jsonrpc other than "2.0" gives -32600 and the server stays up', async () => {
    const results = await peer(rig.socket, [
      { op: 'raw', message: '{"method":"test.echo","params":["x"],"id":3}' },
      { op: 'raw', message: '{"jsonrpc":"1.0","method":"test.echo","params":["x"],"id":4}' },
      { op: 'raw', message: '{"jsonrpc":"2.0","method":"test.echo","params":["x"],"id":{"a":1}}' },
      { op: 'raw', message: '[1,2]' },
      { ...call('test.echo', ['still up'], 5), connection: 'new' },
    ]);
    expect(results[0]?.decoded).toEqual({ jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: 3 });
    expect(results[1]?.decoded?.error.code).toBe(-32600);
    expect(results[2]?.decoded).toMatchObject({ error: { code: -32600 }, id: null });
    expect(results[3]?.decoded).toEqual([
      { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null },
      { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid Request' }, id: null },
    ]);
    expect(results[4]?.decoded?.result).toBe('still up');
  });

  it('comodojo - §8.25 params as an object match by name; scalar params give -32600', async () => {
    const [named, pair, wrongName, scalar] = await peer(rig.socket, [
      call('test.echo', { message: 'hi' }),
      call('test.pair', { b: 2, a: 'x' }),
      call('test.echo', { msg: 'hi' }),
      call('test.echo', 'hi'),
    ]);
    expect(named?.decoded?.result).toBe('hi');
    expect(pair?.decoded?.result).toBe('x2');
    expect(error(wrongName)).toMatchObject({ code: -32602 });
    expect(error(scalar)).toEqual({ code: -32600, message: 'Invalid Request' });
  });

  it('comodojo - §8.26 type checks: int, boolean, array, struct, double', async () => {
    const cases: [string, unknown, boolean][] = [
      ['test.int', 1, true],
      ['test.int', 1.5, false],
      ['test.int', '1', false],
      ['test.boolean', true, true],
      ['test.boolean', 1, false],
      ['test.array', [], true],
      ['test.array', { a: 1 }, false],
      ['test.struct', {}, true],
      ['test.struct', { a: 1 }, true],
      ['test.struct', [], true],
      ['test.double', 1.5, true],
      ['test.double', 1, true],
      ['test.string', 1, false],
    ];
    const results = await peer(rig.socket, cases.map(([m, v]) => call(m, [v])));
    expect(results.map((r) => r.decoded?.result === true)).toEqual(cases.map(([, , ok]) => ok));
    for (const [i, [, , ok]] of cases.entries()) if (!ok) expect(error(results[i])).toMatchObject({ code: -32602 });
  });

  it('comodojo - §8.27 §8.28 methodSignature and methodHelp describe every method', async () => {
    const results = await peer(rig.socket, [
      call('system.methodSignature', ['worker.status']),
      call('system.methodSignature', ['daemon.shutdown']),
      call('system.methodSignature', ['device.command']),
      call('system.methodHelp', ['worker.list']),
      call('system.methodHelp', ['test.any']),
      call('system.methodHelp', ['no.such']),
      xmlCall('system.methodHelp', ['test.any']),
      call('system.listMethods', []),
    ]);
    expect(results[0]?.decoded?.result).toEqual([['array'], ['int', 'string']]);
    expect(results[1]?.decoded?.result).toEqual(['int']);
    expect(results[2]?.decoded?.result).toEqual(['undefined', 'string', 'string', 'undefined']);
    expect(results[3]?.decoded?.result).toBe('List installed workers');
    expect(results[4]?.decoded).toMatchObject({ result: null });
    expect(error(results[5])).toEqual({ code: -32601, message: 'Method not found' });
    expect(results[6]?.result).toBeNull();
    expect(results[6]?.message).toContain('<nil/>');
    // Every method has a signature and, except the test's deliberately bare one, help text.
    const names: string[] = results[7]?.decoded?.result;
    const help = await peer(rig.socket, names.map((n) => call('system.methodHelp', [n])));
    expect(names.filter((_, i) => typeof help[i]?.decoded?.result !== 'string')).toEqual(['test.any']);
  });

  it('comodojo - §8.29 system.getCapabilities has exactly the six keys and spec versions', async () => {
    const [r] = await peer(rig.socket, [xmlCall('system.getCapabilities')]);
    const caps = r?.result as Record<string, { specUrl: string; specVersion: number }>;
    expect(Object.fromEntries(Object.entries(caps).map(([k, v]) => [k, v.specVersion]))).toEqual({
      xmlrpc: 1,
      'system.multicall': 1,
      introspection: 2,
      nil: 1,
      faults_interop: 20010516,
      'json-rpc': 2,
    });
  });

  it('comodojo - §8.30 system.multicall over JSON gives -31000', async () => {
    const [r] = await peer(rig.socket, [call('system.multicall', [[{ methodName: 'test.echo', params: ['a'] }]])]);
    expect(error(r)).toEqual({ code: -31000, message: 'Multicall is available only in XMLRPC' });
  });

  it('comodojo - §8.31 XML params of every type, indented or not, are decoded to the right values', async () => {
    const params = `
      <param><value><string>s &amp; &#233;</string></value></param>
      <param><value><int>-4</int></value></param>
      <param><value><i4>7</i4></value></param>
      <param><value><double>2.5</double></value></param>
      <param><value><boolean>1</boolean></value></param>
      <param><value><nil/></value></param>
      <param><value>
        <array><data><value><int>1</int></value><value><string>two</string></value></data></array>
      </value></param>
      <param><value><struct><member><name>k</name><value><boolean>0</boolean></value></member></struct></value></param>
      <param><value><base64>aGVsbG8=</base64></value></param>
      <param><value>bare text</value></param>`;
    const doc = (p: string) => `<?xml version="1.0"?>\n<methodCall>\n  <methodName>test.any</methodName>\n  <params>${p}</params>\n</methodCall>`;
    const each = params.split('</param>').filter((p) => p.includes('<param>')).map((p) => p + '</param>');
    const results = await peer(rig.socket, [
      ...each.map((p) => ({ op: 'raw', content_type: 'text/xml', message: doc(p) })),
      { op: 'raw', content_type: 'text/xml', message: doc(each[0] as string).replace(/\n\s*/g, '') },
    ]);
    expect(results.map((r) => r.result)).toEqual(['s & é', -4, 7, 2.5, true, null, [1, 'two'], { k: false }, 'hello', 'bare text', 's & é']);
  });

  it('comodojo - §8.32 not XML or no methodName gives -32700; an empty message gives -32600', async () => {
    const results = await peer(rig.socket, [
      { op: 'raw', content_type: 'text/xml', message: 'this is not xml' },
      { op: 'raw', content_type: 'text/xml', message: '<methodCall><params/></methodCall>' },
      { op: 'raw', content_type: 'text/xml', message: '<methodCall><methodName>test.any</methodName><params><param><value><int>1</int><int>2</int></value></param></params></methodCall>' },
      { op: 'raw', content_type: 'text/xml', message: '' },
    ]);
    expect(results.map((r) => r.fault?.faultCode)).toEqual([-32700, -32700, -32700, -32600]);
    expect(results[0]?.fault?.faultString).toBe('Parse error');
  });

  it('comodojo - §8.33 §8.34 every <value> in XML responses has one typed child; faults carry int faultCode and string faultString', async () => {
    await peer(rig.socket, [call('device.command', ['thermo1', 'relay', true])]);
    const results = await peer(rig.socket, [xmlCall('gateway.health'), xmlCall('device.state', ['thermo1']), xmlCall('device.list'), xmlCall('worker.list'), xmlCall('test.any', [null]), xmlCall('no.such')]);
    for (const r of results) {
      expect(r.xml_error).toBeUndefined();
      // No bare text in a value, strings always in <string>, booleans 1/0.
      for (const m of (r.message ?? '').matchAll(/<value>(.{0,12})/g)) expect(m[1]).toMatch(/^<(string|int|double|boolean|nil\/|array|struct)>/);
      for (const m of (r.message ?? '').matchAll(/<boolean>(.*?)<\/boolean>/g)) expect(['0', '1']).toContain(m[1]);
    }
    expect(results[4]?.message).toContain('<value><nil/></value>');
    expect(results[5]?.fault).toEqual({ faultCode: -32601, faultString: 'Method not found', codeIsInt: true });
  });

  it('comodojo - §8.35 XML multicall: results unwrapped, -32601, -31001, -32600 entries', async () => {
    const [r] = await peer(rig.socket, [
      xmlCall('system.multicall', [
        [
          { methodName: 'test.echo', params: ['a'] },
          { methodName: 'no.such', params: [] },
          { methodName: 'system.multicall', params: [[]] },
          { methodName: 'test.echo' },
        ],
      ]),
    ]);
    expect(r?.result).toEqual([
      'a',
      { faultCode: -32601, faultString: 'Method not found' },
      { faultCode: -31001, faultString: 'Recursive system.multicall forbidden' },
      { faultCode: -32600, faultString: 'Invalid Request' },
    ]);
  });

  it('comodojo - §8.36 workers: list, status 0..3 as integers, unknown -32603, pause then status 2, resume', async () => {
    const results = await peer(rig.socket, [
      call('worker.list', []),
      call('worker.status', []),
      call('worker.status', ['nope']),
      call('worker.pause', ['thermo1']),
      call('worker.status', ['thermo1']),
      call('device.command', ['thermo1', 'relay', true]),
      call('worker.resume', ['thermo1']),
      xmlCall('worker.status', ['thermo1']),
      call('worker.pause', [5]),
    ]);
    expect(results[0]?.decoded?.result).toEqual([{ name: 'thermo1', looptime: 1, forever: true }]);
    expect(results[1]?.decoded?.result).toEqual({ thermo1: 1 });
    expect(error(results[2])).toEqual({ code: -32603, message: 'Internal error' });
    expect(results[3]?.decoded?.result).toBe(true);
    expect(results[4]?.decoded?.result).toBe(2);
    expect(error(results[5])).toMatchObject({ code: 4004 });
    expect(results[6]?.decoded?.result).toBe(true);
    expect(results[7]?.result).toBe(1);
    expect(error(results[8])).toMatchObject({ code: -32602 });
  });

  it('comodojo - §8.39 encryption: an encrypted request gets an encrypted response, a later plain one a plain response', async () => {
    const results = await peer(rig.socket, [
      { op: 'call', method: 'test.echo', params: ['secret'], id: 1, key: 'sharedsecret' },
      { op: 'call', protocol: 'xml', method: 'test.echo', params: ['secret'], key: 'sharedsecret' },
      { op: 'call', method: 'test.echo', params: ['plain'], id: 2 },
      { op: 'call', method: 'test.echo', params: ['wrong key'], id: 3, key: 'otherkey' },
    ]);
    expect(results[0]).toMatchObject({ encrypted: true, decoded: { result: 'secret', id: 1 } });
    expect(results[1]?.encrypted).toBe(true);
    expect(results[1]?.message).toContain('<string>secret</string>');
    expect(results[2]).toMatchObject({ encrypted: false, decoded: { result: 'plain', id: 2 } });
    // A wrong key fails decryption: -32300, encrypted with the server's key (so the client cannot read it).
    expect(results[3]?.encrypted).toBe(true);
  });

  it('comodojo - §8.39 an encrypted request to a server without a key gives -32300 in plain text', async () => {
    const plain = await startRig();
    try {
      const [j, x] = await peer(plain.socket, [
        { op: 'call', method: 'test.echo', params: ['s'], id: 1, key: 'k' },
        { op: 'call', protocol: 'xml', method: 'test.echo', params: ['s'], key: 'k' },
      ]);
      expect(j?.decoded?.error).toEqual({ code: -32300, message: 'Transport error' });
      expect(x?.fault).toMatchObject({ faultCode: -32300, faultString: 'Transport error' });
    } finally {
      await plain.stop();
    }
  });

  it('comodojo - §8.42 a one-request-per-connection PHP client (written from the spec, standing in for the stock RpcClient) gets test.echo, listMethods, worker.list and an unknown-method fault', async () => {
    const results = await peer(rig.socket, [
      { ...xmlCall('test.echo', ['hello']), connection: 'new' },
      { ...xmlCall('system.listMethods'), connection: 'new' },
      { ...xmlCall('worker.list'), connection: 'new' },
      { ...xmlCall('no.such'), connection: 'new' },
      { op: 'call', method: 'test.echo', params: ['hello'], connection: 'new' },
      { op: 'call', method: 'worker.list', connection: 'new' },
    ]);
    expect(results[0]?.result).toBe('hello');
    expect((results[1]?.result as string[]).slice(0, 2)).toEqual(['system.getCapabilities', 'system.listMethods']);
    expect(results[2]?.result).toEqual([{ name: 'thermo1', looptime: 1, forever: true }]);
    expect(results[3]?.fault).toMatchObject({ faultCode: -32601 });
    expect(results[4]?.decoded?.result).toBe('hello');
    expect(results[5]?.decoded?.result).toHaveLength(1);
  });
});
