import { connect, type Socket } from 'node:net';
import { captureLogger, halfOpenRequest, Signal } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayHttp } from '../src/http/server.js';
import { Metrics } from '../src/http/metrics.js';
import type { HttpAdmission } from '../src/http/admission.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function serve(): Promise<{ http: GatewayHttp; port: number; recorded: ReturnType<typeof captureLogger> }> {
  const recorded = captureLogger();
  const http = new GatewayHttp(new Metrics(), recorded.logger);
  const { port } = await http.listen('127.0.0.1', 0);
  return { http, port, recorded };
}

const upgradeTo = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`;


/** Open a raw connection, send `request`, and reset the connection as soon as it is out. */
function resetAfter(port: number, request: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(request);
      setImmediate(() => {
        socket.resetAndDestroy();
        resolve();
      });
    });
    socket.on('error', () => resolve());
  });
}

describe('gateway http - refused upgrades', () => {
  it('gateway http - clients resetting refused upgrades are logged at debug; the server keeps serving', async () => {
    const { http, port, recorded } = await serve();
    cleanups.push(() => http.close());
    const uncaught: unknown[] = [];
    const recordUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', recordUncaught);
    cleanups.push(async () => void process.off('uncaughtException', recordUncaught));
    const rounds = 20;
    for (let i = 0; i < rounds; i++) {
      // Reset as soon as the request is out, racing the server's answer (the reported crash)...
      await resetAfter(port, upgradeTo('/nothing-here'));
      // ...and after reading the answer, on a socket the server still holds: its next read fails with ECONNRESET.
      const { socket, text } = await halfOpenRequest(port, upgradeTo('/nothing-here'));
      expect(text).toMatch(/^HTTP\/1\.1 404 /);
      socket.resetAndDestroy();
    }
    await recorded.changed.waitUntil(() => (recorded.find(/upgrade connection failed/, 'debug').length >= rounds ? true : undefined), {
      what: `${rounds} debug lines about reset upgrade connections`,
    });
    expect(uncaught).toEqual([]);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(503);
  });

  it('gateway http - a refused client that never closes its side is cut off, so close() completes', async () => {
    const { http, port } = await serve();
    const { socket, text } = await halfOpenRequest(port, upgradeTo('/nothing-here'));
    expect(text).toMatch(/^HTTP\/1\.1 404 /);
    const closed = new Signal();
    let done = false;
    socket.on('error', () => undefined);
    // The client keeps its side open; only the server's own timer can end this connection.
    void http.close().then(() => {
      done = true;
      closed.notify();
    });
    await closed.waitUntil(() => (done ? true : undefined), { what: 'the server to close', timeoutMs: 5000 });
    socket.destroy();
  });
});

/** A raw request on a new connection; resolves with all the server sent once it closes ('' when refused unread). */
function rawGet(port: number, path = '/healthz'): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

/** A client connection that records when it was closed; `trickle` sends the start of headers that never end. */
function openClient(port: number, trickle: boolean): Promise<{ socket: Socket; closed: Promise<number> }> {
  return new Promise((resolve) => {
    const openedAt = Date.now();
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<number>((done) => socket.once('close', () => done(Date.now() - openedAt)));
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    socket.once('connect', () => {
      if (trickle) socket.write('GET /healthz HTTP/1.1\r\nX-Slow: ');
      resolve({ socket, closed });
    });
  });
}

describe('gateway http - admission (13.7)', () => {
  async function capped(admission: Partial<HttpAdmission>): Promise<{ port: number; metrics: Metrics; recorded: ReturnType<typeof captureLogger> }> {
    const recorded = captureLogger();
    const metrics = new Metrics();
    const http = new GatewayHttp(metrics, recorded.logger, admission);
    const { port } = await http.listen('127.0.0.1', 0);
    cleanups.push(() => http.close());
    return { port, metrics, recorded };
  }
  const counted = async (metrics: Metrics, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await metrics.text())?.[1] ?? Number.NaN);

  it('gateway http - at maxConnections a newcomer is closed unread while every open connection is busy (13.7)', async () => {
    const { port, metrics, recorded } = await capped({ maxConnections: 2, headersTimeoutMs: 60_000, requestTimeoutMs: 60_000 });
    const busy = [await openClient(port, true), await openClient(port, true)];
    // Both have sent bytes: neither may be evicted, so the newcomer is refused.
    // Accepts are in order: the newcomer is seen once both are counted.
    expect(await rawGet(port)).toBe('');
    expect(await counted(metrics, 'patchbay_http_refused_connections_total')).toBeGreaterThanOrEqual(1);
    expect(recorded.find(/gateway\.http\.maxConnections/, 'warn')).toHaveLength(1);
    for (const c of busy) expect(c.socket.destroyed).toBe(false);
  });

  it('gateway http - at maxConnections the oldest silent connection gives way to a real client; one trickling headers keeps its slot (13.7)', async () => {
    const { port, metrics } = await capped({ maxConnections: 3, headersTimeoutMs: 60_000, requestTimeoutMs: 60_000 });
    const trickle = await openClient(port, true);
    const silent = [await openClient(port, false), await openClient(port, false)];
    // Refused until the silent ones have been silent a second; then the oldest makes room.
    let answer = '';
    const deadline = Date.now() + 20_000;
    while (!answer.startsWith('HTTP/1.1 503') && Date.now() < deadline) answer = await rawGet(port);
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(await silent[0]?.closed).toBeLessThan(20_000);
    expect(await counted(metrics, 'patchbay_http_evicted_connections_total')).toBe(1);
    expect(trickle.socket.destroyed).toBe(false);
    expect(silent[1]?.socket.destroyed).toBe(false);
  });

  it('gateway http - headers that do not arrive within headersTimeoutMs are answered 408 (a timeout to retry), not 400 (13.7, 20)', async () => {
    const { port } = await capped({ headersTimeoutMs: 1000, requestTimeoutMs: 2000 });
    const client = await openClient(port, true);
    let answer = '';
    client.socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    await client.closed;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  }, 40_000);

  it('gateway http - silent and trickling connections are cut at headersTimeoutMs, not at the next 30 s sweep (13.7)', async () => {
    const { port } = await capped({ headersTimeoutMs: 1000, requestTimeoutMs: 2000 });
    const clients = [await openClient(port, false), await openClient(port, true)];
    const ticker = setInterval(() => clients[1]?.socket.write('a'), 100);
    cleanups.push(async () => clearInterval(ticker));
    const lifetimes = await Promise.all(clients.map((c) => c.closed));
    // 1 s deadline + 1 s check interval, with room for a loaded machine; Node's default sweep is 30 s.
    for (const lived of lifetimes) expect(lived).toBeLessThan(10_000);
  }, 40_000);
});
