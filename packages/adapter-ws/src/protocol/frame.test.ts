import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { textFrame } from './frame.js';

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

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
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const received = await new Promise<string[]>((resolve, reject) => {
      const got: string[] = [];
      client.on('message', (data, isBinary) => {
        if (isBinary) reject(new Error('a binary frame'));
        got.push(String(data));
        if (got.length === texts.length) resolve(got);
      });
      client.on('error', reject);
    });
    client.terminate();
    expect(received.map((t) => t.length)).toEqual(texts.map((t) => t.length));
    expect(received).toEqual(texts);
  });
});
