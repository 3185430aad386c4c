import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createGateway } from '@patchbay/core';
import { captureLogger, FakeDriver } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import tracimAdapter from '../src/index.js';
import { PYTHON, startMaster, startPyPeer, type MasterRig, type PyPeer } from './helpers.js';

/** Opens a connection to `path`, writes `payload` (if any) and closes. */
function sendRaw(path: string, payload?: Buffer | string): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ path });
    s.on('connect', () => (payload === undefined ? s.end() : s.end(payload)));
    s.on('error', () => resolve());
    s.on('close', () => resolve());
  });
}

describe('tracim master - bad input', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void>)().catch(() => undefined);
  });
  async function rig(options: Record<string, unknown> = {}): Promise<{ r: MasterRig; other: PyPeer }> {
    const r = await startMaster(options);
    cleanups.push(() => r.close());
    const other = await startPyPeer({ master: r.master, path: join(r.dir, 'other.sock') });
    cleanups.push(() => other.kill());
    await other.waitFor('daemon_account_info');
    return { r, other };
  }
  /** The master still serves everyone: a state change reaches the other client. */
  async function stillServing(r: MasterRig, other: PyPeer, value: number): Promise<void> {
    r.driver.emit('probe', value);
    await other.waitUntil(() => other.received('daemon_tracim_event').find((m) => JSON.parse(m.data as string).fields.value === value), `probe ${value}`);
  }
  const bad = (r: MasterRig) => r.logger.find(/bad inbound message/);

  it('tracim - invalid JSON: one log line, no reply, master keeps serving', async () => {
    const { r, other } = await rig();
    await sendRaw(r.master, `{"path":"${other.path}","type":`);
    await r.logger.waitFor(/invalid JSON/);
    await stillServing(r, other, 1);
    expect(bad(r)).toHaveLength(1);
    expect(other.received().filter((m) => m.type !== 'daemon_tracim_event' && m.type !== 'daemon_account_info' && m.type !== 'daemon_client_added')).toEqual([]);
  });

  it('tracim - an empty connection: one log line, master keeps serving', async () => {
    const { r, other } = await rig();
    await sendRaw(r.master);
    await r.logger.waitFor(/empty connection/);
    await stillServing(r, other, 2);
    expect(bad(r)).toHaveLength(1);
  });

  it('tracim - a 1 MiB message: one log line, dropped, master keeps serving', async () => {
    const { r, other } = await rig();
    const big = JSON.stringify({ path: other.path, type: 'daemon_get_clients', data: 'x'.repeat(1024 * 1024) });
    await sendRaw(r.master, big);
    await r.logger.waitFor(/over the 65536-byte cap/);
    await stillServing(r, other, 3);
    expect(bad(r)).toHaveLength(1);
    expect(other.received('daemon_clients')).toEqual([]);
  });

  it('tracim - daemon_client_add without data: one log line, the envelope path is registered', async () => {
    const { r, other } = await rig();
    const c = await startPyPeer({ master: r.master, path: join(r.dir, 'c.sock'), args: ['--no-register'] });
    cleanups.push(() => c.kill());
    await c.send({ path: c.path, type: 'daemon_client_add' });
    await c.waitFor('daemon_account_info');
    expect(r.logger.find(/without data/)).toHaveLength(1);
    expect(r.adapter().listClients()).toEqual([
      { path: other.path, pid: expect.any(String) },
      { path: c.path, pid: '0' },
    ]);
    await stillServing(r, other, 4);
  });

  it('tracim - a client socket path that vanishes: one log line, the others keep receiving', async () => {
    const { r, other } = await rig({ pingInterval: 60_000 });
    const c = await startPyPeer({ master: r.master, path: join(r.dir, 'c.sock') });
    cleanups.push(() => c.kill());
    await c.waitFor('daemon_account_info');
    await c.cmd({ cmd: 'stop_listening' });
    for (let i = 10; i < 30; i++) await stillServing(r, other, i);
    expect(r.logger.find(/c\.sock is unreachable/)).toHaveLength(1);
    expect(r.logger.find(/reachable again/)).toHaveLength(0);
  });

  it('tracim - a reply to a path that does not exist is dropped with one log line', async () => {
    const { r, other } = await rig();
    await sendRaw(r.master, JSON.stringify({ path: join(r.dir, 'nobody.sock'), type: 'daemon_ping' }));
    await r.logger.waitFor(/nobody\.sock dropped: daemon_pong not delivered: ENOENT/);
    await stillServing(r, other, 5);
  });
});

describe('tracim master - socket file (M27)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void>)().catch(() => undefined);
  });

  it('tracim - M27 a second master on a live socket path refuses to start and leaves the first serving', async () => {
    const r = await startMaster();
    cleanups.push(() => r.close());
    const c = await startPyPeer({ master: r.master, path: join(r.dir, 'c.sock') });
    cleanups.push(() => c.kill());
    await c.waitFor('daemon_account_info');
    const logger = captureLogger({ levels: 'info' });
    const second = createGateway({ devices: [], hosts: [{ id: 'second', definition: tracimAdapter, options: { socketPath: r.master } }], logger, restart: { maxRestarts: 0 } });
    cleanups.push(() => second.stop({ drainTimeoutMs: 50 }));
    await second.start();
    const host = second.health().hosts[0];
    expect(host?.status).not.toBe('alive');
    expect(host?.reason ?? logger.lines.map((l) => l.message).join('\n')).toMatch(/is in use: another process is listening on it/);
    r.driver.emit('after', 1);
    await c.waitFor('daemon_tracim_event');
    expect(r.adapter().listClients().map((x) => x.path)).toEqual([c.path]);
  });

  it('tracim - M27 a stale socket file is replaced', async () => {
    const dir = (await import('@patchbay/testing')).tempDir('pb-tracim-');
    cleanups.push(async () => dir.remove());
    const path = join(dir.path, 'master.sock');
    // A listener that goes away without removing its file leaves a stale socket (§2.8).
    spawnSync(PYTHON, ['-c', 'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM)\ns.bind(sys.argv[1])', path]);
    expect(statSync(path).isSocket()).toBe(true);
    const logger = captureLogger({ levels: 'info' });
    const driver = new FakeDriver();
    const gateway = createGateway({ devices: [{ id: 'dev1', definition: driver.definition }], hosts: [{ id: 't', definition: tracimAdapter, options: { socketPath: path } }], logger });
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 50 }));
    await gateway.start();
    expect(gateway.health().hosts[0]?.status).toBe('alive');
    expect(logger.find(/replaced the stale master socket/)).toHaveLength(1);
    const c = await startPyPeer({ master: path, path: join(dir.path, 'c.sock') });
    cleanups.push(() => c.kill());
    await c.waitFor('daemon_account_info');
  });

  it('tracim - refuses to delete a file at the socket path that is not a socket', async () => {
    const dir = (await import('@patchbay/testing')).tempDir('pb-tracim-');
    cleanups.push(async () => dir.remove());
    const path = join(dir.path, 'master.sock');
    writeFileSync(path, 'not a socket');
    const gateway = createGateway({ devices: [], hosts: [{ id: 't', definition: tracimAdapter, options: { socketPath: path } }], restart: { maxRestarts: 0 } });
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 50 }));
    await gateway.start();
    expect(gateway.health().hosts[0]?.reason).toMatch(/exists and is not a socket/);
  });
});
