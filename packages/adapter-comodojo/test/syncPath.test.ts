import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sig } from '../src/index.js';
import { encodeResponse } from '../src/internal.js';
import { addTestMethods, open, requestLine, startRig, type Rig } from './helpers.js';

// Issue 12 acceptance 5: the usual JSON call is answered within its own turn, an async method's
// later; neither may change the order or the bytes of what a connection gets back.

const json = (method: string, params: unknown[], id: number) => requestLine('application/json', JSON.stringify({ jsonrpc: '2.0', method, params, id }));
const answerLine = (id: number, result: unknown) => encodeResponse({ status: true, message: JSON.stringify({ jsonrpc: '2.0', id, result }) });

describe('comodojo - answers made within the turn and later, on one connection', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({
      definition: {
        setup: (methods) => {
          addTestMethods(methods);
          methods.add({
            name: 'test.slow',
            description: 'Answers after a while',
            signatures: [sig('string', ['message', 'string'])],
            handler: async (args) => {
              await new Promise((resolve) => setTimeout(resolve, 50));
              return `slow ${String(args['message'])}`;
            },
          });
        },
      },
    });
  });
  afterAll(async () => {
    await rig.stop();
  });

  it('comodojo - a call to an async method, then calls answered at once, in one read: the answers come back in request order, byte for byte', async () => {
    const client = await open(rig.socket);
    client.write(json('test.echo', ['first'], 1) + json('test.slow', ['second'], 2) + json('test.echo', ['third'], 3) + json('test.slow', ['fourth'], 4) + json('test.echo', ['fifth'], 5));
    const lines = [];
    for (let i = 0; i < 5; i++) lines.push(await client.nextLine());
    expect(lines).toEqual([answerLine(1, 'first'), answerLine(2, 'slow second'), answerLine(3, 'third'), answerLine(4, 'slow fourth'), answerLine(5, 'fifth')]);
    client.close();
  });

  it('comodojo - a call answered at once, sent while an async one is still under way, waits for it', async () => {
    const client = await open(rig.socket);
    client.write(json('test.slow', ['early'], 1));
    await new Promise((resolve) => setTimeout(resolve, 10));
    client.write(json('test.echo', ['late'], 2));
    expect([await client.nextLine(), await client.nextLine()]).toEqual([answerLine(1, 'slow early'), answerLine(2, 'late')]);
    client.close();
  });

  it('comodojo - a JSON payload with whitespace around it is answered as before; whitespace alone is -32600, a broken one -32700', async () => {
    const client = await open(rig.socket);
    expect(await client.call('application/json', ` \r\n\t${JSON.stringify({ jsonrpc: '2.0', method: 'test.echo', params: ['padded'], id: 7 })}\n  `)).toEqual({ status: true, message: JSON.stringify({ jsonrpc: '2.0', id: 7, result: 'padded' }) });
    expect(await client.call('application/json', ' \t\r\n\u00a0 ')).toEqual({ status: true, message: JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request' } }) });
    expect(await client.call('application/json', '  {"jsonrpc":"2.0",  ')).toEqual({ status: true, message: JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }) });
    client.close();
  });
});
