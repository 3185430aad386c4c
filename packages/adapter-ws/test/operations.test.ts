import { createGateway, type Gateway } from '@patchbay/core';
import simDriver from '@patchbay/driver-sim';
import { FakeHost, Signal } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import wsAdapter from '../src/index.js';
import { startRig, TestClient, type Message, type Rig } from './rig.js';
import { startTestHttp, type TestHttp } from './httpMount.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function rig(options: Record<string, unknown> = {}): Promise<Rig> {
  const r = await startRig({ healthIntervalMs: 0, ...options });
  cleanups.push(() => r.stop());
  return r;
}

const wsHost = (r: Rig) => r.gateway.health().hosts.find((h) => h.id === 'ws');

describe('ws - operations', () => {
  it('ws - (14.9) a client offering only the bearer.<token> subprotocol is let in, and gets that subprotocol back', async () => {
    const r = await rig({ token: 'only-sub' });
    const socket = new WebSocket(r.wsUrl, ['bearer.only-sub']);
    const client = new TestClient(socket);
    r.clients.push(client);
    await client.waitFor((m) => m.type === 'snapshot', 'the snapshot');
    expect(socket.protocol).toBe('bearer.only-sub');
    // Offered together with ours, ours is selected and the token is not echoed.
    const both = await r.connect({ protocols: ['bearer.only-sub', 'patchbay.v1'] });
    expect(both.socket.protocol).toBe('patchbay.v1');
    // A wrong token in the subprotocol is still refused.
    const wrong = new WebSocket(r.wsUrl, ['bearer.nope']);
    const status = await new Promise<number>((resolve) => wrong.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)).on('error', () => resolve(-1)));
    expect(status).toBe(401);
  });

  it('ws - (14.2) reports its clients through ctx.connection: /healthz shows connected and peers', async () => {
    const r = await rig();
    expect(wsHost(r)).toMatchObject({ status: 'alive', connected: false, peers: 0 });
    const a = await r.connect();
    await r.connect();
    expect(wsHost(r)).toMatchObject({ connected: true, peers: 2 });
    a.close();
    const changed = new Signal();
    const poll = setInterval(() => changed.notify(), 10);
    try {
      await changed.waitUntil(() => (wsHost(r)?.peers === 1 ? true : undefined), { timeoutMs: 10_000, what: 'one peer left' });
    } finally {
      clearInterval(poll);
    }
    expect(wsHost(r)).toMatchObject({ connected: true, peers: 1 });
  });

  it('ws - (13.4) a client that never reads is dropped once its backlog stops moving, logged once; the others carry on', async () => {
    // A bound it never reaches: only the stall rule can drop it.
    const r = await rig({ maxBufferedBytes: 256 * 1024 * 1024, stallTimeoutMs: 300, pingIntervalMs: 0 });
    const stalled = await r.connect();
    const healthy = await r.connect();
    (stalled.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const payload = 'v'.repeat(4096);
    let sent = 0;
    // Fill the kernel buffers until bytes wait on the server side, then stop sending.
    for (let round = 0; round < 400 && r.adapter().stats().maxBufferedSeen === 0; round++) {
      for (let i = 0; i < 50; i++) r.driver.emit('blob', `${sent++}:${payload}`);
      await healthy.waitCount((m) => m.type === 'state' && m.channel === 'blob', { count: sent, what: 'blob states', timeoutMs: 15_000 });
    }
    expect(r.adapter().stats().maxBufferedSeen).toBeGreaterThan(0);
    await r.recorded.waitFor(/backlog of \d+ bytes has not moved/, { level: 'warn', timeoutMs: 10_000 });
    expect(r.adapter().stats()).toMatchObject({ stalledDropped: 1, slowDropped: 0, clients: 1 });
    expect(r.recorded.counters.get('patchbay_ws_stalled_clients_dropped_total')).toBe(1);
    r.driver.emit('temperature', 42);
    await healthy.waitFor((m) => m.type === 'state' && m.value === 42, 'state after the drop');
    expect(r.recorded.lines.filter((l) => /has not moved/.test(l.message))).toHaveLength(1);
    expect(healthy.closed).toBeUndefined();
  });

  it('ws - (14.3) health messages carry what changed since the last one: a device that fails appears, the others do not', async () => {
    const r = await rig({ healthIntervalMs: 40 });
    const client = await r.connect();
    r.driver.emit('temperature', 1);
    const first = (await client.waitFor((m) => m.type === 'health' && (m.hosts as { id: string }[]).some((h) => h.id === 'other'), 'a health message with the other host')) as Message & { devices: unknown[]; removed: unknown[] };
    // The device's report is a state event the client has; its health entry did not change.
    expect(first.devices).toEqual([]);
    expect(first.removed).toEqual([]);
    r.driver.crash();
    const failed = await client.waitFor((m) => m.type === 'health' && (m.devices as { id: string; status: string }[]).some((d) => d.id === 'dev1' && d.status !== 'alive'), 'the device failing in a health message');
    expect(failed).toMatchObject({ status: 'degraded' });
  });
});

describe('ws - health at scale', () => {
  async function gatewayWith(devices: number): Promise<{ http: TestHttp; gateway: Gateway; client: TestClient }> {
    const http = await startTestHttp();
    const gateway = createGateway({
      devices: Array.from({ length: devices }, (_, i) => ({ id: `sim${i}`, definition: simDriver, options: { interval: 2000 } })),
      hosts: [
        { id: 'ws', definition: wsAdapter, options: { healthIntervalMs: 50 } },
        { id: 'other', definition: new FakeHost().definition },
      ],
      http: http.mount,
    });
    await gateway.start();
    cleanups.push(async () => {
      await gateway.stop({ drainTimeoutMs: 200 });
      await http.close();
    });
    const client = await TestClient.open(`ws://127.0.0.1:${http.port}/ws`);
    cleanups.push(async () => client.close());
    return { http, gateway, client };
  }

  it('ws - (14.3 / 20.3) with 400 reporting devices a health message is no bigger than with 4: only hosts changed, not the devices', async () => {
    const sizes = async (devices: number): Promise<{ snapshot: number; health: number[] }> => {
      const { client } = await gatewayWith(devices);
      const raw: number[] = [];
      client.socket.on('message', (data) => {
        const text = String(data);
        if (text.startsWith('{"type":"health"')) raw.push(Buffer.byteLength(text));
      });
      // Every device is online (their first reports went out), then five more health messages.
      await client.waitCount((m) => m.type === 'state', { count: devices * 2, what: 'first reports', timeoutMs: 30_000 });
      const before = raw.length;
      const signal = new Signal();
      client.socket.on('message', () => signal.notify());
      await signal.waitUntil(() => (raw.length >= before + 5 ? true : undefined), { timeoutMs: 30_000, what: 'five health messages' });
      const healthOnes = client.messages.filter((m) => m.type === 'health').slice(-5) as (Message & { devices: unknown[] })[];
      for (const h of healthOnes) expect(h.devices).toEqual([]);
      return { snapshot: Buffer.byteLength(JSON.stringify(client.messages[0])), health: raw.slice(before, before + 5) };
    };
    const small = await sizes(4);
    const large = await sizes(400);
    expect(large.snapshot).toBeGreaterThan(50 * small.snapshot);
    // Host figures differ in digits only: the same order of size, whatever the device count.
    expect(Math.max(...large.health)).toBeLessThan(2 * Math.max(...small.health) + 200);
    expect(Math.max(...large.health)).toBeLessThan(2048);
  }, 90_000);
});
