import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { textFrame } from './frame.js';

let server: Server | undefined;
let client: WebSocket | undefined;
afterEach(async () => {
  client?.terminate();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

describe('ws protocol - frames', () => {
  it('ws protocol - (20) a frame made once is read by a ws client as the text it carries, at each length the header has a form for', async () => {
    // 0 and 125: the length in the first byte; 126 and 65,535: 16 bits; 65,536 and more: 64 bits; é: bytes, not characters.
    const texts = [0, 1, 125, 126, 65_535, 65_536, 200_000].map((n) => 'x'.repeat(n)).concat(['é'.repeat(63), 'é'.repeat(33_000)]);
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    server = createServer();
    server.on('upgrade', (request, socket, head) => {
      wss.handleUpgrade(request, socket, head, () => {
        for (const text of texts) socket.write(textFrame(text));
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const ws = (client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`));
    const received = await new Promise<string[]>((resolve, reject) => {
      const got: string[] = [];
      ws.on('message', (data, isBinary) => {
        if (isBinary) reject(new Error('a binary frame'));
        got.push(String(data));
        if (got.length === texts.length) resolve(got);
      });
      ws.on('error', reject);
    });
    expect(received.map((t) => t.length)).toEqual(texts.map((t) => t.length));
    expect(received).toEqual(texts);
  });

  it('ws protocol - (20) a frame has the shortest header for its length, FIN and the text opcode, and no mask', () => {
    const header = (n: number, bytes: number) => textFrame('x'.repeat(n)).subarray(0, bytes).toString('hex');
    expect(header(0, 2)).toBe('8100');
    expect(header(125, 2)).toBe('817d');
    expect(header(126, 4)).toBe('817e007e');
    expect(header(65_535, 4)).toBe('817effff');
    expect(header(65_536, 10)).toBe('817f0000000000010000');
    expect(textFrame('é').toString('hex')).toBe('8102c3a9');
  });
});
