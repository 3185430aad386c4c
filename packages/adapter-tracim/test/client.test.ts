import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createGateway, type Adapter, type AdapterDefinition } from '@patchbay/core';
import { captureLogger, FakeDriver, tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import tracimAdapter from '../src/index.js';
import { sendOnce, type TracimClient } from '../src/internal.js';
import { PYTHON, rawListener, startMaster } from './helpers.js';
import { spawnSync } from 'node:child_process';

interface Raw {
  path: string;
  type: string;
  data?: unknown;
}

describe('tracim client mode (C items)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void>)().catch(() => undefined);
  });

  /** A raw Node listener plays the master, recording every message and its chunking. */
  async function rig(options: Record<string, unknown> = {}) {
    const dir = tempDir('pb-tracim-client-');
    cleanups.push(async () => dir.remove());
    const master = join(dir.path, 'master.sock');
    const client = join(dir.path, 'client.sock');
    const listener = await rawListener(master);
    cleanups.push(() => listener.close());
    const logger = captureLogger({ levels: 'info' });
    let instance: TracimClient | undefined;
    const definition: AdapterDefinition = {
      ...tracimAdapter,
      create(config, ctx) {
        instance = tracimAdapter.create(config as never, ctx) as TracimClient;
        return instance as Adapter;
      },
    };
    const gateway = createGateway({ devices: [], hosts: [{ id: 'tc', definition, options: { mode: 'client', masterSocketPath: master, clientSocketPath: client, ...options } }], logger });
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 50 }));
    const messages = () => listener.messages.map((b) => JSON.parse(b.toString()) as Raw);
    const waitMessage = (type: string, count = 1, timeoutMs = 5000) =>
      listener.changed.waitUntil(() => messages().filter((m) => m.type === type)[count - 1], { what: `${count} × ${type} at the master`, timeoutMs });
    const toClient = (msg: Raw | string) => sendOnce(client, Buffer.from(typeof msg === 'string' ? msg : JSON.stringify(msg)), 2000);
    return { dir: dir.path, master, client, listener, logger, gateway, messages, waitMessage, toClient, instance: () => instance as TracimClient };
  }

  it('tracim - C1 binds its socket replacing a stale file and sends exactly one daemon_client_add with string pid', async () => {
    const r = await rig();
    spawnSync(PYTHON, ['-c', 'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM)\ns.bind(sys.argv[1])', r.client]);
    expect(statSync(r.client).isSocket()).toBe(true);
    await r.gateway.start();
    const add = await r.waitMessage('daemon_client_add');
    expect(add).toEqual({ path: r.client, type: 'daemon_client_add', data: { path: r.client, pid: String(process.pid) } });
    // Nothing else arrives from a ping round trip later: still exactly one registration.
    await r.toClient({ path: r.master, type: 'daemon_ping' });
    await r.waitMessage('daemon_pong');
    expect(r.messages().filter((m) => m.type === 'daemon_client_add')).toHaveLength(1);
  });

  it('tracim - C2 answers each daemon_ping with a pong to the ping path within 1 s', async () => {
    const r = await rig();
    await r.gateway.start();
    await r.waitMessage('daemon_client_add');
    const other = await rawListener(join(r.dir, 'other.sock'));
    cleanups.push(() => other.close());
    const started = Date.now();
    await r.toClient({ path: r.master, type: 'daemon_ping' });
    await expect(r.waitMessage('daemon_pong', 1, 1000)).resolves.toEqual({ path: r.client, type: 'daemon_pong' });
    expect(Date.now() - started).toBeLessThan(1000);
    await r.toClient({ path: join(r.dir, 'other.sock'), type: 'daemon_ping', data: null });
    await other.changed.waitUntil(() => other.messages[0], { what: 'pong to the other path', timeoutMs: 1000 });
    expect(JSON.parse(other.messages[0]!.toString())).toEqual({ path: r.client, type: 'daemon_pong' });
  });

  it('tracim - (14.2) client mode: connected once the master registered it (account info), not before', async () => {
    const r = await rig();
    await r.gateway.start();
    await r.waitMessage('daemon_client_add');
    const tc = () => r.gateway.health().hosts.find((h) => h.id === 'tc');
    expect(tc()).toMatchObject({ connected: false, peers: 0 });
    await r.toClient({ path: r.master, type: 'daemon_account_info', data: { user_id: '17' } });
    await r.logger.waitFor(/registered with the Tracim master as user 17/);
    expect(tc()).toMatchObject({ connected: true, peers: 1, connection: expect.stringMatching(/registered as user 17/) });
  });

  it('tracim - C3 C4 C5 stores user_id, decodes a TLM over 4096 bytes, tolerates acks, broadcasts and unknown types', async () => {
    const r = await rig();
    await r.gateway.start();
    await r.waitMessage('daemon_client_add');
    await r.toClient({ path: r.master, type: 'daemon_account_info', data: { user_id: '17' } });
    await r.logger.waitFor(/registered with the Tracim master as user 17/);
    expect(r.instance().userId).toBe('17');
    const tlm = { event_id: 401, event_type: 'content.modified.html-document', created: '2025-03-27T13:51:25Z', read: null, fields: { content: { raw_content: '<p>' + 'x'.repeat(8000) + '</p>' } } };
    await r.toClient({ path: r.master, type: 'daemon_tracim_event', data: JSON.stringify(tlm) });
    await r.logger.waitFor(/Tracim live message 401: content\.modified\.html-document/);
    for (const type of ['daemon_ack', 'daemon_client_added', 'daemon_client_deleted', 'something_new']) await r.toClient({ path: r.master, type, data: { path: '/x', pid: '1' } });
    await r.toClient({ path: r.master, type: 'daemon_tracim_event', data: JSON.stringify({ ...tlm, event_id: 402 }) });
    await r.logger.waitFor(/Tracim live message 402/);
    expect(r.logger.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
  });

  it('tracim - C6 C7 on shutdown sends one daemon_client_delete and deletes its socket; every message fits 4096 bytes in one write', async () => {
    const r = await rig();
    await r.gateway.start();
    await r.waitMessage('daemon_client_add');
    await r.toClient({ path: r.master, type: 'daemon_ping' });
    await r.waitMessage('daemon_pong');
    expect(existsSync(r.client)).toBe(true);
    await r.gateway.stop({ drainTimeoutMs: 50 });
    await expect(r.waitMessage('daemon_client_delete')).resolves.toEqual({ path: r.client, type: 'daemon_client_delete', data: { path: r.client, pid: String(process.pid) } });
    expect(existsSync(r.client)).toBe(false);
    expect(r.messages().filter((m) => m.type === 'daemon_client_delete')).toHaveLength(1);
    for (const bytes of r.listener.messages) expect(bytes.length).toBeLessThanOrEqual(4096);
  });

  it('tracim - C8 without pings for longer than the watchdog it registers again, and a restarted master registers it again', async () => {
    // Our own master plays the master, with no ping before the client's watchdog expires.
    const m = await startMaster({ pingInterval: 60_000 });
    cleanups.push(() => m.close());
    const logger = captureLogger({ levels: 'info' });
    const client = join(m.dir, 'client.sock');
    const gateway = createGateway({ devices: [], hosts: [{ id: 'tc', definition: tracimAdapter, options: { mode: 'client', masterSocketPath: m.master, clientSocketPath: client, watchdogMs: 400 } }], logger });
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 50 }));
    await gateway.start();
    await m.logger.waitFor(/Tracim client registered: .*client\.sock/);
    // The master restarts: its list is empty (no persistence, §6.5).
    await m.gateway.stop({ drainTimeoutMs: 50 });
    let second: { listClients(): { path: string }[] } | undefined;
    const definition: AdapterDefinition = {
      ...tracimAdapter,
      create(config, ctx) {
        const a = tracimAdapter.create(config as never, ctx);
        second = a as unknown as { listClients(): { path: string }[] };
        return a;
      },
    };
    const restarted = createGateway({ devices: [], hosts: [{ id: 'm2', definition, options: { socketPath: m.master, pingInterval: 60_000 } }], logger: m.logger });
    cleanups.push(() => restarted.stop({ drainTimeoutMs: 50 }));
    await restarted.start();
    expect(second?.listClients()).toEqual([]);
    await logger.waitFor(/registering with the Tracim master .* \(no ping for 400 ms\)/, { timeoutMs: 5000 });
    await m.logger.changed.waitUntil(() => (second?.listClients().some((c) => c.path === client) ? true : undefined), { what: 'the restarted master to list the client', timeoutMs: 5000 });
  });

  it('tracim - 14.6 client mode: device events it cannot forward are counted failed, not delivered, with one explanation', async () => {
    const dir = tempDir('pb-tracim-client-');
    cleanups.push(async () => dir.remove());
    const master = join(dir.path, 'master.sock');
    const listener = await rawListener(master);
    cleanups.push(() => listener.close());
    const logger = captureLogger({ levels: 'info' });
    const driver = new FakeDriver();
    const gateway = createGateway({
      devices: [{ id: 'dev1', definition: driver.definition }],
      hosts: [{ id: 'tc', definition: tracimAdapter, options: { mode: 'client', masterSocketPath: master, clientSocketPath: join(dir.path, 'client.sock') } }],
      logger,
    });
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 50 }));
    await gateway.start();
    await driver.waitRunning();
    const tc = () => gateway.health().hosts.find((h) => h.id === 'tc');
    // Status events (the device starting, alive) need nothing from a client and pass.
    await logger.changed.waitUntil(() => ((tc()?.delivered ?? 0) >= 1 ? true : undefined), { what: 'the device status', timeoutMs: 10_000 });
    const before = tc()?.delivered;
    driver.emit('n', 1);
    driver.emit('m', 2);
    const rejected = /rejected event .*: Tracim client mode forwards no state events/;
    await logger.changed.waitUntil(() => (logger.find(rejected, 'error').length >= 2 ? true : undefined), { what: 'two rejected events', timeoutMs: 10_000 });
    // The two states, and whatever availability changes came with them: none counted delivered.
    expect(tc()?.delivered).toBe(before);
    expect(tc()?.failed).toBeGreaterThanOrEqual(2);
    expect(logger.find(/cannot forward device events/)).toHaveLength(1);
  });
});
