import { connect } from 'node:net';
import { captureLogger, halfOpenRequest, Signal } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayHttp } from '../src/http/server.js';
import { Metrics } from '../src/http/metrics.js';

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
