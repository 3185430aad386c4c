import { MAX_NAME_LENGTH, type HostContext } from '@patchbay/core';
import { describe, expect, it } from 'vitest';
import { addGatewayMethods } from '../gatewayMethods.js';
import { encryptPayload, REQUEST_PREFIX } from './encryption.js';
import { decodeResponse, encodeResponse, type RequestFrame } from './framing.js';
import { decodeRequestPayload } from './payload.js';
import { MethodRegistry, sig } from './registry.js';
import { RpcEngine } from './rpcEngine.js';
import { addSystemMethods } from './systemMethods.js';
import { RefusalEngine } from './workerRefusals.js';
import { decodeCall } from './xmlDecode.js';
import { encodeFault } from './xmlRpc.js';

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

describe('comodojo - a device name past MAX_NAME_LENGTH is refused before any work, in the worker as on the gateway thread (13.8, 13.9)', () => {
  /** The gateway's own methods, on a host context that counts what is asked of it. */
  function gatewayRegistry(asked: string[]): MethodRegistry {
    const methods = new MethodRegistry();
    addSystemMethods(methods, () => undefined);
    const ctx = {
      devices: () => (asked.push('devices'), []),
      snapshot: () => (asked.push('snapshot'), { devices: [] }),
      setPaused: () => (asked.push('setPaused'), false),
    } as unknown as HostContext;
    addGatewayMethods(methods, { ctx, allowShutdown: false, shutdown: () => undefined });
    return methods;
  }

  async function bothPaths(frame: RequestFrame) {
    const asked: string[] = [];
    const engine = new RpcEngine({ registry: gatewayRegistry(asked), encryptionKey: key, onInternal: () => undefined, onBadRequest: () => undefined });
    const gateway = encodeResponse(await engine.handle(frame, { afterResponse: () => undefined }));
    const request = await decodeRequestPayload(frame, { encryptionKey: key, decodeXml: decodeCall });
    const worker = await new RefusalEngine(gatewayRegistry([]).shapes(), key).answer(request);
    return { gateway, worker: worker?.text, asked };
  }

  const long = 'n'.repeat(MAX_NAME_LENGTH + 1);
  const quoted = `${JSON.stringify(long.slice(0, 80)).slice(0, 80)}… (${long.length + 2} characters)`;
  const cases: [string, string, string, { code: number; message: string }][] = [
    ['device.state', 'device', long, { code: 4001, message: `unknown device ${quoted}: a device name has at most ${MAX_NAME_LENGTH} characters` }],
    ['device.describe', 'device', 'd'.repeat(20 * 1024 * 1024), { code: 4001, message: `unknown device "${'d'.repeat(79)}… (${20 * 1024 * 1024 + 2} characters): a device name has at most ${MAX_NAME_LENGTH} characters` }],
    ['worker.status', 'worker', long, { code: -32603, message: 'Internal error' }],
    ['worker.pause', 'worker', long, { code: -32603, message: 'Internal error' }],
    ['worker.resume', 'worker', long, { code: -32603, message: 'Internal error' }],
  ];
  for (const [method, param, name, error] of cases) {
    it(`comodojo - 13.8: JSON-RPC ${method} with a ${name.length}-character ${param}`, async () => {
      const { gateway, worker, asked } = await bothPaths(json({ jsonrpc: '2.0', method, params: [name], id: 1 }));
      expect(worker).toBe(gateway);
      expect(asked).toEqual([]);
      expect(JSON.parse(decodeResponse(gateway.trim()).message ?? '')).toEqual({ jsonrpc: '2.0', id: 1, error });
    });

    it(`comodojo - 13.8: XML-RPC ${method} with a ${name.length}-character ${param}`, async () => {
      const { gateway, worker, asked } = await bothPaths(xml(method, str(name)));
      expect(worker).toBe(gateway);
      expect(asked).toEqual([]);
      expect(decodeResponse(gateway.trim()).message).toBe(encodeFault(error.code, error.message));
    });
  }

  it('comodojo - 13.8: a name of MAX_NAME_LENGTH characters goes to the gateway thread, where the method looks it up', async () => {
    const { worker, asked } = await bothPaths(json({ jsonrpc: '2.0', method: 'device.state', params: ['n'.repeat(MAX_NAME_LENGTH)], id: 1 }));
    expect(worker).toBeUndefined();
    expect(asked).toEqual(['snapshot']);
  });
});
