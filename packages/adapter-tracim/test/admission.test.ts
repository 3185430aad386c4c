/** Issue 13.7 on the master socket: a connection cap that idle connections give way under, and a listener-wide memory budget. */
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway, InputBudget } from '@patchbay/core';
import { captureLogger, tempDir, type CapturedLogger } from '@patchbay/testing';
import tracimAdapter from '../src/index.js';
import { sendOnce } from '../src/internal.js';
import { rawListener, startMaster, type MasterRig } from './helpers.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function rig(options: Record<string, unknown>): Promise<MasterRig> {
  const r = await startMaster(options);
  cleanups.push(() => r.close());
  return r;
}

/** An inbound connection to the master that records when it is closed; `trickle` sends a byte every 100 ms of a message that never ends. */
function open(master: string, first?: Buffer, trickle = false): Promise<{ socket: Socket; closed: Promise<void>; isClosed: () => boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ path: master });
    let done = false;
    const closed = new Promise<void>((ok) =>
      socket.once('close', () => {
        done = true;
        ok();
      }),
    );
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    cleanups.push(() => void socket.destroy());
    socket.once('connect', () => {
      if (first) socket.write(first);
      if (trickle) {
        const timer = setInterval(() => socket.writable && socket.write('a'), 100);
        cleanups.push(() => clearInterval(timer));
        socket.once('close', () => clearInterval(timer));
      }
      resolve({ socket, closed, isClosed: () => done });
    });
  });
}

describe('tracim master - admission (13.7)', () => {
  it('tracim - at maxConnections the connection idle longest gives way to a real client; busy ones keep their slots (13.7)', async () => {
    const r = await rig({ maxConnections: 3, readTimeoutMs: 60_000 });
    const me = await rawListener(join(r.dir, 'me.sock'));
    cleanups.push(() => me.close());
    const trickle = await open(r.master, Buffer.from('{"type":"'), true);
    const idle = [await open(r.master), await open(r.master)];
    // A ping until the master answers: refused while the idle ones are younger than a second.
    const ping = Buffer.from(JSON.stringify({ path: join(r.dir, 'me.sock'), type: 'daemon_ping' }));
    const deadline = Date.now() + 20_000;
    while (me.messages.length === 0 && Date.now() < deadline) {
      await sendOnce(r.master, ping, 5000).catch(() => undefined);
      await me.changed.waitUntil(() => (me.messages.length > 0 ? true : undefined), { what: 'a pong', timeoutMs: 300 }).catch(() => undefined);
    }
    expect(JSON.parse(me.messages[0]?.toString() ?? '{}')).toMatchObject({ type: 'daemon_pong' });
    await idle[0]?.closed;
    expect(trickle.isClosed()).toBe(false);
    expect(idle[1]?.isClosed()).toBe(false);
    expect(r.logger.find(/connections open \(maxConnections\)/, 'warn')).toHaveLength(1);
  }, 40_000);

  it('tracim - at maxConnections with every connection busy the newcomer is closed unread (13.7)', async () => {
    const r = await rig({ maxConnections: 2, readTimeoutMs: 60_000 });
    const busy = [await open(r.master, Buffer.from('{"type":"'), true), await open(r.master, Buffer.from('{"type":"'), true)];
    const newcomer = await open(r.master, Buffer.from('{"type":"'));
    // Closed at once, not at readTimeoutMs (60 s).
    await newcomer.closed;
    for (const c of busy) expect(c.isClosed()).toBe(false);
  }, 30_000);

  it('tracim - unfinished messages over maxBufferedBytes for the whole listener: the connection crossing it is closed, the others keep going (13.7)', async () => {
    const r = await rig({ maxConnections: 10, readTimeoutMs: 60_000, maxBufferedBytes: 64 * 1024 });
    // Each under the 64 KiB per-message cap; together over the listener's budget.
    const part = Buffer.concat([Buffer.from('{"type":"'), Buffer.alloc(30 * 1024, 0x61)]);
    const all = [await open(r.master, part), await open(r.master, part), await open(r.master, part)];
    await Promise.race(all.map((c) => c.closed));
    expect(r.logger.find(/over maxBufferedBytes 65536/, 'warn')).toHaveLength(1);
    expect(all.filter((c) => c.isClosed())).toHaveLength(1);
  }, 30_000);

  it('tracim - unfinished messages draw on the gateway-wide input budget too: the connection that would pass it is closed and what it held is given back (13.7)', async () => {
    // 90 KiB of the gateway's 100 KiB already held by other listeners.
    const budget = new InputBudget(100 * 1024);
    budget.take(90 * 1024);
    const r = await startMaster({ maxConnections: 10, readTimeoutMs: 60_000 }, { context: { inputBudget: budget } });
    cleanups.push(() => r.close());
    const part = Buffer.concat([Buffer.from('{"type":"'), Buffer.alloc(6 * 1024, 0x61)]);
    const first = await open(r.master, part);
    const second = await open(r.master, part);
    await second.closed;
    expect(first.isClosed()).toBe(false);
    expect(r.logger.find(/gateway-wide input budget \(gateway.maxBufferedBytes 102400\) is spent/, 'warn')).toHaveLength(1);
    expect(budget.usedBytes).toBe(90 * 1024 + part.length);
    first.socket.destroy();
    await first.closed;
    // The listener sees the close on its own side a moment later.
    await expect.poll(() => budget.usedBytes, { timeout: 5000 }).toBe(90 * 1024);
  }, 30_000);
});

/** A client-mode host registered with a raw listener playing the master. */
async function clientRig(options: Record<string, unknown>): Promise<{ client: string; master: string; logger: CapturedLogger; registered: () => Promise<unknown> }> {
  const dir = tempDir('pb-tracim-client-admission-');
  cleanups.push(() => dir.remove());
  const master = join(dir.path, 'master.sock');
  const client = join(dir.path, 'client.sock');
  const listener = await rawListener(master);
  cleanups.push(() => listener.close());
  const logger = captureLogger({ levels: 'info' });
  const gateway = createGateway({ devices: [], hosts: [{ id: 'tc', definition: tracimAdapter, options: { mode: 'client', masterSocketPath: master, clientSocketPath: client, ...options } }], logger });
  await gateway.start();
  cleanups.push(() => gateway.stop({ drainTimeoutMs: 50 }));
  const registered = () => listener.changed.waitUntil(() => (listener.messages.length > 0 ? true : undefined), { what: 'daemon_client_add at the master', timeoutMs: 10_000 });
  return { client, master, logger, registered };
}

describe('tracim client mode - admission (13.7)', () => {
  it('tracim - client mode: at maxConnections with every connection busy the newcomer is closed unread, logged once (13.7)', async () => {
    const r = await clientRig({ maxConnections: 2, readTimeoutMs: 60_000 });
    await r.registered();
    const busy = [await open(r.client, Buffer.from('{"type":"'), true), await open(r.client, Buffer.from('{"type":"'), true)];
    const newcomer = await open(r.client, Buffer.from('{"type":"'));
    // Closed at once, not at readTimeoutMs (60 s).
    await newcomer.closed;
    for (const c of busy) expect(c.isClosed()).toBe(false);
    expect(r.logger.find(/client socket: 2 connections open \(maxConnections\)/, 'warn')).toHaveLength(1);
  }, 30_000);

  it('tracim - client mode: unfinished messages over maxBufferedBytes for the whole socket: the connection crossing it is closed, the others keep going (13.7)', async () => {
    const r = await clientRig({ maxConnections: 10, readTimeoutMs: 60_000, maxBufferedBytes: 64 * 1024 });
    await r.registered();
    const part = Buffer.concat([Buffer.from('{"type":"'), Buffer.alloc(30 * 1024, 0x61)]);
    const all = [await open(r.client, part), await open(r.client, part), await open(r.client, part)];
    await Promise.race(all.map((c) => c.closed));
    expect(r.logger.find(/client socket, over maxBufferedBytes 65536/, 'warn')).toHaveLength(1);
    expect(all.filter((c) => c.isClosed())).toHaveLength(1);
  }, 30_000);
});
