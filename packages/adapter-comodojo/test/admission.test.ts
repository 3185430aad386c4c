import { MAX_NAME_LENGTH } from '@patchbay/core';
import { captureLogger, Signal } from '@patchbay/testing';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { open, requestLine, startRig, type FrameClient, type Rig } from './helpers.js';

// Issue 13.7-13.9: every listener caps connections, time to a complete frame and the input it
// holds, so that floods of idle or trickling connections never lock real clients out.

const echo = (text: string, id = 1) => requestLine('application/json', JSON.stringify({ jsonrpc: '2.0', method: 'test.echo', params: [text], id }));

/** A raw connection, resolved once the server greeted it (so it is counted), that tells when it is closed. */
function rawConnect(uri: string): Promise<Socket & { closedBy: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(uri.split(':').pop()), '127.0.0.1') as Socket & { closedBy: Promise<void> };
    socket.closedBy = new Promise((done) => socket.once('close', () => done()));
    socket.once('data', () => resolve(socket));
    socket.once('error', reject);
    socket.on('error', () => undefined);
  });
}

/** Connects and calls test.echo until it is answered (a refused or evicted connection is retried). */
async function servedWithin(uri: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    let client: FrameClient | undefined;
    try {
      client = await open(uri);
      client.write(echo('real client'));
      const line = await client.nextLine(2000);
      if (line !== undefined) return line;
      last = 'closed before answering';
    } catch (error) {
      last = String(error);
    } finally {
      client?.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`not served within ${timeoutMs} ms: ${last}`);
}

describe('comodojo - admission control', () => {
  let rig: Rig | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await rig?.stop();
    rig = undefined;
  });

  it('comodojo - 13.7: 64 connections that send nothing do not lock a real client out (the oldest idle one makes room)', async () => {
    const logger = captureLogger();
    rig = await startRig({ logger, adapterOptions: { maxConnections: 64, frameTimeoutMs: 600_000 } });
    for (let i = 0; i < 64; i++) sockets.push(await rawConnect(rig.socket));
    expect(rig.adapter.load().connections).toBe(64);
    const line = await servedWithin(rig.socket, 15_000);
    expect(line).toMatch(/\r\n$/);
    expect(logger.find(/closed connection \d+, idle for \d+ ms, to serve a new one/).length).toBeGreaterThanOrEqual(1);
    expect(rig.adapter.load().connections).toBeLessThanOrEqual(64);
  });

  it('comodojo - 13.7: the deadline for a complete frame starts at accept and is not moved by trickled bytes', async () => {
    const logger = captureLogger();
    rig = await startRig({ logger, adapterOptions: { frameTimeoutMs: 500 } });
    const silent = await rawConnect(rig.socket);
    const trickler = await rawConnect(rig.socket);
    sockets.push(silent, trickler);
    const partial = echo('never finished');
    let at = 0;
    const timer = setInterval(() => trickler.write(partial.charAt(at++ % 40)), 50);
    try {
      const started = Date.now();
      await Promise.all([silent.closedBy, trickler.closedBy]);
      // Closed by the deadline (500 ms), not kept for ever by 20 bytes a second.
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      clearInterval(timer);
    }
    expect(logger.find(/no complete frame within 500 ms \(\d+ bytes of a partial frame\)/).length).toBe(1);
    // A client that keeps sending whole frames is never cut off by the deadline.
    const client = await open(rig.socket);
    for (let i = 0; i < 8; i++) {
      client.write(echo(`n${i}`, i));
      expect(JSON.parse((await client.response()).message ?? '')).toMatchObject({ id: i });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    client.close();
  });

  it('comodojo - 13.7: partial frames past the listener budget are refused with "Server busy", the budget holds, and a real client is served', async () => {
    const logger = captureLogger();
    const budget = 4 * 1024 * 1024;
    rig = await startRig({ logger, adapterOptions: { maxFrameBytes: 2 * 1024 * 1024, maxBufferedBytes: budget, frameTimeoutMs: 600_000 } });
    const clients: FrameClient[] = [];
    for (let i = 0; i < 12; i++) {
      const client = await open(rig.socket);
      clients.push(client);
      client.write(Buffer.alloc(1024 * 1024, 0x41)); // 1 MiB of a frame that never ends
    }
    // 12 x 1 MiB cannot fit in 4 MiB: at least 8 connections are refused, each with one line.
    const closes = new Signal();
    for (const c of clients) void c.waitClosed(30_000).then(() => closes.notify(), () => undefined);
    await closes.waitUntil(() => (clients.filter((c) => c.closed).length >= 8 ? true : undefined), { what: '8 connections refused', timeoutMs: 20_000 });
    const refused = clients.filter((c) => c.closed);
    expect(logger.find(/input budget \(maxBufferedBytes 4194304\) is spent/).length).toBe(refused.length);
    expect(refused.length).toBeGreaterThanOrEqual(8);
    for (const c of refused) {
      expect(await c.response()).toEqual({ status: false, message: 'Server busy' });
      await c.waitClosed();
    }
    const load = rig.adapter.load();
    expect(load.peakBufferedBytes).toBeGreaterThan(2 * 1024 * 1024);
    expect(load.peakBufferedBytes).toBeLessThanOrEqual(budget);
    expect(await servedWithin(rig.socket, 10_000)).toMatch(/\r\n$/);
    // What the refused connections held went back: the kept ones alone are charged.
    expect(rig.adapter.load().bufferedBytes).toBeLessThanOrEqual((clients.length - refused.length) * 1024 * 1024);
    for (const c of clients) c.close();
  });

  it('comodojo - 13.8: a JSON-RPC batch is capped at 1000 calls (-32600); 1000 is served', async () => {
    rig = await startRig();
    const client = await open(rig.socket);
    const batch = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', method: 'test.echo', params: ['x'], id: i })));
    const over = JSON.parse((await client.call('application/json', batch(1001))).message ?? '');
    expect(over).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request' } });
    const ok = JSON.parse((await client.call('application/json', batch(1000))).message ?? '') as unknown[];
    expect(ok).toHaveLength(1000);
    client.close();
  });

  it('comodojo - 13.9: device.state with a 20 MiB name gets a short error, not the name echoed', async () => {
    rig = await startRig({ adapterOptions: { maxFrameBytes: 40 * 1024 * 1024, maxBufferedBytes: 64 * 1024 * 1024 } });
    const client = await open(rig.socket);
    const name = 'n'.repeat(20 * 1024 * 1024);
    client.write(requestLine('application/json', JSON.stringify({ jsonrpc: '2.0', method: 'device.state', params: [name], id: 1 })));
    const response = await client.response(30_000);
    expect((response.message ?? '').length).toBeLessThan(1024);
    expect(JSON.parse(response.message ?? '').error).toEqual({ code: 4001, message: `unknown device "${'n'.repeat(79)}… (${name.length + 2} characters): a device name has at most ${MAX_NAME_LENGTH} characters` });
    client.close();
  });
});
