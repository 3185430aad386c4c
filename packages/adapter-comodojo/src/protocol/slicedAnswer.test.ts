import { describe, expect, it } from 'vitest';
import { encryptPayload, encryptPayloadSliced } from './encryption.js';
import { encodeResponse, encodeResponseSliced, SLICED_ANSWER_CHARS } from './framing.js';
import { MethodRegistry, sig } from './registry.js';
import { RpcEngine } from './rpcEngine.js';

/** Resolves with the order in which `work` settled and an immediate queued just after it started. */
async function order(work: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const done = work().then(() => seen.push('done'));
  setImmediate(() => seen.push('immediate'));
  await done;
  await new Promise((resolve) => setImmediate(resolve));
  return seen;
}

/**
 * Issue 13.8: a large answer is encoded (serialised, UTF-8, base64, encrypted) in pieces with
 * turns of the event loop between them, into the same bytes as in one go.
 */
describe('comodojo - large answers are encoded in slices', () => {
  const piece = 256 * 1024;
  const messages = {
    ascii: 'a'.repeat(SLICED_ANSWER_CHARS + 1),
    'multi-byte': 'x&<é€'.repeat(SLICED_ANSWER_CHARS / 2),
    // A surrogate pair across the first piece boundary, a lone one at the end, a length no multiple of 3.
    'surrogate at a boundary': `${'b'.repeat(piece - 1)}😀${'c'.repeat(piece + 2)}\ud800`,
  };

  for (const [name, message] of Object.entries(messages)) {
    it(`comodojo - 13.8: a ${name} answer's line is encodeResponse's, byte for byte, and other work runs while it is encoded`, async () => {
      let pieces: string[] = [];
      expect(await order(async () => (pieces = await encodeResponseSliced({ status: true, message })))).toEqual(['immediate', 'done']);
      expect(pieces.length).toBeGreaterThan(1);
      expect(pieces.join('')).toBe(encodeResponse({ status: true, message }));
    });

    it(`comodojo - 13.8: a ${name} answer encrypts in slices to encryptPayload's text`, async () => {
      let text = '';
      expect(await order(async () => (text = await encryptPayloadSliced('secret', message)))).toEqual(['immediate', 'done']);
      expect(text).toBe(encryptPayload('secret', message));
    });
  }

  it('comodojo - 13.8: a batch answered call by call gives JSON.stringify of its responses; one that cannot be stringified still lets every call run, then is an internal error', async () => {
    let calls = 0;
    const registry = new MethodRegistry()
      .add({ name: 'test.echo', description: null, signatures: [sig('string', ['message', 'string'])], handler: (args) => (calls++, args['message']) })
      .add({ name: 'test.big', description: null, signatures: [sig('int')], handler: () => (calls++, 10n) });
    const internal: unknown[] = [];
    const engine = new RpcEngine({ registry, onInternal: (error) => internal.push(error), onBadRequest: () => undefined });
    const call = (method: string, id: unknown, params: unknown[] = []) => ({ jsonrpc: '2.0', method, params, id });
    const batch = [call('test.echo', 1, ['é😀']), { jsonrpc: '2.0', method: 'test.echo', params: ['note'] }, call('no.such', 'x'), call('test.echo', null, ['z'])];
    const answer = await engine.answer({ protocol: 'json', encrypted: false, payload: { kind: 'json', value: batch } }, { afterResponse: () => undefined });
    expect(answer.message).toBe(
      JSON.stringify([
        { jsonrpc: '2.0', id: 1, result: 'é😀' },
        { jsonrpc: '2.0', id: 'x', error: { code: -32601, message: 'Method not found' } },
        { jsonrpc: '2.0', id: null, result: 'z' },
      ]),
    );
    calls = 0;
    const failing = await engine.answer({ protocol: 'json', encrypted: false, payload: { kind: 'json', value: [call('test.big', 1), call('test.echo', 2, ['after'])] } }, { afterResponse: () => undefined });
    expect(failing).toEqual({ status: false, message: 'Internal error' });
    expect(calls).toBe(2);
    expect(internal).toHaveLength(1);
  });
});
