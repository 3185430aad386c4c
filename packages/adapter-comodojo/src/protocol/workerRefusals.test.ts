import { describe, expect, it } from 'vitest';
import { encryptPayload, REQUEST_PREFIX } from './encryption.js';
import { encodeResponse, type RequestFrame } from './framing.js';
import { decodeRequestPayload } from './payload.js';
import { MethodRegistry, sig } from './registry.js';
import { RpcEngine } from './rpcEngine.js';
import { addSystemMethods } from './systemMethods.js';
import { RefusalEngine } from './workerRefusals.js';
import { decodeCall } from './xmlDecode.js';

/**
 * Issue 13.8: a request that will be refused anyway is answered in the decode worker, and its
 * reply must be the gateway thread's own, byte for byte, with the same bad-request log reasons.
 * Each refusal kind is answered both ways here and compared.
 */
const key = 'worker-refusal-secret';

function registry(): MethodRegistry {
  const methods = new MethodRegistry();
  addSystemMethods(methods, () => undefined);
  methods.add({ name: 'device.state', description: null, signatures: [sig('struct', ['name', 'string'])], handler: ({ name }) => ({ name }) });
  methods.add({ name: 'device.set', description: null, signatures: [sig('boolean', ['name', 'string'], ['value', 'int']), sig('boolean', ['name', 'string'])], handler: () => true });
  return methods;
}

/** The reply and the log reasons of the gateway thread's path (RpcEngine.handle, as a small frame takes). */
async function onGatewayThread(frame: RequestFrame): Promise<{ text: string; badRequests: string[] }> {
  const badRequests: string[] = [];
  const engine = new RpcEngine({ registry: registry(), encryptionKey: key, onInternal: () => undefined, onBadRequest: (reason) => badRequests.push(reason) });
  const response = await engine.handle(frame, { afterResponse: () => undefined });
  return { text: encodeResponse(response), badRequests };
}

/** The same request as the decode worker answers it (undefined: it goes to the gateway thread). */
async function inWorker(frame: RequestFrame) {
  const request = await decodeRequestPayload(frame, { encryptionKey: key, decodeXml: decodeCall });
  return new RefusalEngine(registry().shapes(), key).answer(request);
}

const json = (value: unknown, encrypted = false): RequestFrame => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return { contentType: 'application/json', message: Buffer.from(encrypted ? REQUEST_PREFIX + encryptPayload(key, text) : text) };
};
const xml = (method: string, params = ''): RequestFrame => ({
  contentType: 'text/xml',
  message: Buffer.from(`<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params}</params></methodCall>`),
});
const str = (text: string) => `<param><value><string>${text}</string></value></param>`;

const refused: [string, RequestFrame][] = [
  ['JSON-RPC method not found', json({ jsonrpc: '2.0', method: 'no.such', params: [], id: 1 })],
  ['JSON-RPC invalid params (arity)', json({ jsonrpc: '2.0', method: 'device.state', params: ['a', 'b'], id: 'x' })],
  ['JSON-RPC invalid params (type)', json({ jsonrpc: '2.0', method: 'device.state', params: [['a'.repeat(1000)]], id: 2 })],
  ['JSON-RPC invalid params (named)', json({ jsonrpc: '2.0', method: 'device.set', params: { name: 'a', other: 1 }, id: 3 })],
  ['JSON-RPC Invalid Request (jsonrpc 1.0)', json({ jsonrpc: '1.0', method: 'device.state', params: ['a'], id: 4 })],
  ['JSON-RPC Invalid Request (not an object)', json('42')],
  ['JSON-RPC Invalid Request (bad id type)', json({ jsonrpc: '2.0', method: 'device.state', params: ['a'], id: { no: 1 } })],
  ['JSON-RPC Invalid Request (empty batch)', json('[]')],
  ['JSON-RPC batch past the cap', json(Array.from({ length: 1001 }, (_, id) => ({ jsonrpc: '2.0', method: 'device.state', params: ['a'], id })))],
  ['JSON-RPC batch of refusals only', json([{ jsonrpc: '2.0', method: 'no.such', id: 1 }, { jsonrpc: '2.0', id: 2 }, 7, { jsonrpc: '2.0', method: 'device.state', params: [1], id: 3 }])],
  ['JSON-RPC notification of a method not found (no reply)', json({ jsonrpc: '2.0', method: 'no.such', params: [] })],
  ['JSON-RPC multicall over JSON', json({ jsonrpc: '2.0', method: 'system.multicall', params: [[]], id: 5 })],
  ['JSON-RPC parse error', json('{"jsonrpc": "2.0",')],
  ['JSON-RPC invalid UTF-8', { contentType: 'application/json', message: Buffer.from([0x7b, 0xff, 0x7d]) }],
  ['JSON-RPC encrypted, method not found', json({ jsonrpc: '2.0', method: 'no.such', id: 6 }, true)],
  ['JSON-RPC encrypted with another key', { contentType: 'application/json', message: Buffer.from(REQUEST_PREFIX + encryptPayload('other', '{}')) }],
  ['XML-RPC method not found', xml('no.such', str('a'))],
  ['XML-RPC invalid params (arity)', xml('device.state')],
  ['XML-RPC invalid params (type)', xml('device.state', `<param><value><array><data>${'<value><string>x</string></value>'.repeat(100)}</data></array></value></param>`)],
  ['XML-RPC parse error', xml('device.state', '<param><value><string>a</value></param>')],
  ['XML-RPC Invalid Request (no methodName)', { contentType: 'text/xml', message: Buffer.from('<?xml version="1.0"?><methodCall><params></params></methodCall>') }],
];

describe('comodojo - refusals answered in the decode worker are the gateway thread\'s replies, byte for byte (13.8)', () => {
  for (const [what, frame] of refused) {
    it(`comodojo - 13.8: ${what}`, async () => {
      const gateway = await onGatewayThread(frame);
      const worker = await inWorker(frame);
      expect(worker).toBeDefined();
      expect(worker?.text).toBe(gateway.text);
      expect(worker?.badRequests).toEqual(gateway.badRequests);
    });
  }

  it('comodojo - 13.8: a request a method would run for, even one call in a batch, goes to the gateway thread', async () => {
    expect(await inWorker(json({ jsonrpc: '2.0', method: 'device.state', params: ['a'], id: 1 }))).toBeUndefined();
    expect(await inWorker(json([{ jsonrpc: '2.0', method: 'no.such', id: 1 }, { jsonrpc: '2.0', method: 'device.set', params: ['a'], id: 2 }]))).toBeUndefined();
    expect(await inWorker(xml('device.state', str('a')))).toBeUndefined();
    expect(await inWorker(xml('system.listMethods'))).toBeUndefined();
  });
});
