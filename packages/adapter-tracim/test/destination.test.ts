import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Signal, tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { Destination } from '../src/transport/destination.js';
import { rawListener } from './helpers.js';

// What a queue still holds is what the garbage collector cannot take back: count it that way.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** How many of `refs` are still reachable after a full collection. */
async function reachable(refs: WeakRef<object>[]): Promise<number> {
  // WeakRefs made in this job stay alive until it ends.
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  return refs.filter((r) => r.deref() !== undefined).length;
}

describe('tracim - per-client destination queue', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void> | void)();
  });

  function make(maxQueue: number, sendTimeoutMs = 2000, coalesceAfter?: number) {
    const dir = tempDir('pb-tracim-dest-');
    cleanups.push(() => dir.remove());
    const path = join(dir.path, 'client.sock');
    const events: string[] = [];
    const changed = new Signal();
    const note = (e: string) => {
      events.push(e);
      changed.notify();
    };
    const seen = (e: string) => changed.waitUntil(() => (events.includes(e) ? true : undefined), { what: `"${e}"`, timeoutMs: 10_000 });
    const destination = new Destination(
      path,
      { sendTimeoutMs, maxQueue, coalesceAfter },
      {
        keepOnFailure: () => true,
        onReachability: (_p, reachable) => note(reachable ? 'up' : 'down'),
        onDropped: (_p, n, reason) => note(`dropped ${n}: ${reason}`),
        onIdle: () => note('idle'),
      },
    );
    cleanups.push(() => void destination.close());
    return { path, destination, events, changed, seen };
  }
  const msg = (text: string, key?: string) => ({ bytes: Buffer.from(text), type: 't', key });

  it('tracim - while a client is unreachable its queue keeps the latest value per device+channel, in its slot, and delivers on return', async () => {
    const { path, destination, events, seen } = make(100);
    destination.push(msg('a1', 'a'));
    await seen('down');
    for (let i = 2; i <= 20; i++) destination.push(msg(`a${i}`, 'a'));
    destination.push(msg('b1', 'b'));
    destination.push(msg('reply'));
    destination.push(msg('a21', 'a'));
    const listener = await rawListener(path);
    cleanups.push(() => listener.close());
    await seen('idle');
    // a's slot (a1, waiting for its retry) took every later value of a, and kept its turn.
    expect(listener.messages.map((b) => b.toString())).toEqual(['a21', 'b1', 'reply']);
    expect(events.filter((e) => e === 'down' || e === 'up')).toEqual(['down', 'up']);
  });

  it('tracim - a full queue drops its oldest message, counted and logged once each', async () => {
    const { path, destination, events, seen } = make(16);
    destination.push(msg('m0'));
    await seen('down');
    for (let i = 1; i < 20; i++) destination.push(msg(`m${i}`));
    expect(destination.size).toBe(16);
    expect(events.filter((e) => e.startsWith('dropped'))).toHaveLength(4);
    const listener = await rawListener(path);
    cleanups.push(() => listener.close());
    await seen('idle');
    // The four oldest (m0, waiting for its retry, and m1..m3) made room for m16..m19.
    expect(listener.messages.map((b) => b.toString())).toEqual(Array.from({ length: 16 }, (_, i) => `m${i + 4}`));
  });

  it('tracim - a client that accepts and never closes costs at most maxQueue messages of memory; the oldest go, a ping still goes first, the rest arrive in order', async () => {
    const { path, destination, events, changed, seen } = make(16, 60_000);
    // Reads each message to its end but, while stuck, never closes: the in-flight one waits.
    let stuck = true;
    const held: Socket[] = [];
    const received: string[] = [];
    const server = createServer((socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => {
        received.push(Buffer.concat(chunks).toString().trimEnd());
        if (stuck) held.push(socket);
        else socket.end();
        changed.notify();
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const N = 20_000;
    const refs: WeakRef<Buffer>[] = [];
    const push = (text: string, urgent = false) => {
      const bytes = Buffer.from(text.padEnd(1000));
      refs.push(new WeakRef(bytes));
      destination.push({ bytes, type: 't' }, urgent);
    };
    push('m0');
    await changed.waitUntil(() => (received.length === 1 ? true : undefined), { what: 'm0 to be read', timeoutMs: 10_000 });
    for (let i = 1; i < N; i++) push(`m${i}`);
    push('ping', true);
    expect(destination.size).toBe(16);
    expect(events.filter((e) => e.startsWith('dropped'))).toHaveLength(N + 1 - 16);
    // m0 in flight and 15 waiting: nothing of the 19,985 dropped may stay behind.
    expect(await reachable(refs)).toBeLessThanOrEqual(16);
    stuck = false;
    for (const socket of held) socket.end();
    await seen('idle');
    expect(received).toEqual(['m0', 'ping', ...Array.from({ length: 14 }, (_, i) => `m${N - 14 + i}`)]);
    expect(destination.sent).toBe(16);
  });

  it('tracim - an unreachable client pushed many state changes keeps one per device+channel in memory, and delivers them in their slots on return', async () => {
    const { path, destination, seen } = make(100);
    const refs: WeakRef<Buffer>[] = [];
    const push = (text: string, key?: string) => {
      const bytes = Buffer.from(text);
      refs.push(new WeakRef(bytes));
      destination.push({ bytes, type: 't', key });
    };
    push('a0', 'a');
    await seen('down');
    for (let i = 1; i <= 5000; i++) {
      for (const key of ['a', 'b', 'c', 'd']) push(`${key}${i}`, key);
      if (i === 2500) push('reply');
    }
    expect(destination.size).toBe(5);
    // The latest of each of the four channels (a's in a0's slot) and the reply.
    expect(await reachable(refs)).toBeLessThanOrEqual(5);
    const listener = await rawListener(path);
    cleanups.push(() => listener.close());
    await seen('idle');
    expect(listener.messages.map((b) => b.toString())).toEqual(['a5000', 'b5000', 'c5000', 'd5000', 'reply']);
  });

  it('tracim - 14.6 a slow but alive client (20 ms per message) past the backlog threshold gets the latest state per channel, not ever older state', async () => {
    const { path, destination, events, changed, seen } = make(10_000, 2000, 8);
    const received: string[] = [];
    const server = createServer((socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      // A handler that takes its time before closing, as the Python SDK's does.
      socket.on('end', () => {
        received.push(Buffer.concat(chunks).toString());
        setTimeout(() => socket.end(), 20);
        changed.notify();
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    for (let i = 1; i <= 100; i++) {
      destination.push(msg(`a${i}`, 'a'));
      destination.push(msg(`b${i}`, 'b'));
      if (i === 50) destination.push(msg('reply'));
    }
    // Below the threshold every change is kept; past it, one slot per channel plus the reply.
    expect(destination.size).toBeLessThanOrEqual(8 + 3);
    await seen('idle');
    expect(received.length).toBeLessThanOrEqual(12);
    expect(received).toContain('reply');
    expect(received.filter((m) => m.startsWith('a')).at(-1)).toBe('a100');
    expect(received.filter((m) => m.startsWith('b')).at(-1)).toBe('b100');
    // Per channel the values still go forward, never back.
    for (const key of ['a', 'b']) {
      const values = received.filter((m) => m.startsWith(key)).map((m) => Number(m.slice(1)));
      expect(values).toEqual([...values].sort((x, y) => x - y));
    }
    expect(events.filter((e) => e === 'down')).toHaveLength(0);
  });

  it('tracim - issue 20: past the threshold a channel that changes before each delivery still reaches the client (its slot keeps its turn)', async () => {
    const { path, destination, changed } = make(10_000, 2000, 1);
    const received: string[] = [];
    let n = 0;
    // Each message read makes both channels change again before the connection closes: what a
    // client that drains slower than the devices report sees all the time.
    const server = createServer((socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => {
        received.push(Buffer.concat(chunks).toString());
        if (received.length < 20) {
          n++;
          destination.push(msg(`a${n}`, 'a'));
          destination.push(msg(`b${n}`, 'b'));
        }
        socket.end();
        changed.notify();
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    destination.push(msg('a0', 'a'));
    destination.push(msg('b0', 'b'));
    await changed.waitUntil(() => (received.length >= 20 ? true : undefined), { what: '20 messages', timeoutMs: 10_000 });
    // Moved to the tail on each change instead, b would wait behind a new a every time and never arrive.
    expect(received.slice(0, 20).filter((m) => m.startsWith('b')).length).toBeGreaterThanOrEqual(5);
  });

  it('tracim - a full queue makes room with its oldest state, never with a reply: a client kept full by busy devices still gets every reply', async () => {
    const { path, destination, events, seen } = make(16);
    destination.push(msg('s0', 's0'));
    await seen('down');
    for (let i = 1; i < 16; i++) destination.push(msg(`s${i}`, `s${i}`));
    destination.push(msg('reply 1'), true);
    // As at 10,000 devices: more channels change than the queue holds, each a new key.
    for (let i = 16; i < 200; i++) destination.push(msg(`s${i}`, `s${i}`));
    destination.push(msg('reply 2'), true);
    for (let i = 200; i < 400; i++) destination.push(msg(`s${i}`, `s${i}`));
    expect(destination.size).toBe(16);
    const drops = events.filter((e) => e.startsWith('dropped'));
    expect(drops).toHaveLength(400 + 2 - 16);
    expect(drops.every((e) => e === 'dropped 1: queue full (16 messages): dropped the oldest (t)')).toBe(true);
    const listener = await rawListener(path);
    cleanups.push(() => listener.close());
    await seen('idle');
    expect(listener.messages.map((b) => b.toString())).toEqual(['reply 1', 'reply 2', ...Array.from({ length: 14 }, (_, i) => `s${386 + i}`)]);
  });

  it('tracim - a queue full of replies drops new state rather than a reply; a new reply then takes the oldest reply\'s place', async () => {
    const { path, destination, events, seen } = make(16);
    destination.push(msg('r0'), true);
    await seen('down');
    for (let i = 1; i < 16; i++) destination.push(msg(`r${i}`), true);
    destination.push({ bytes: Buffer.from('state'), type: 'daemon_tracim_event', key: 'd\u0000c' });
    expect(events.filter((e) => e.startsWith('dropped'))).toEqual(['dropped 1: queue full (16 messages, every one waiting a reply, an ack or a pong): dropped the new daemon_tracim_event']);
    destination.push(msg('r16'), true);
    expect(destination.size).toBe(16);
    const listener = await rawListener(path);
    cleanups.push(() => listener.close());
    await seen('idle');
    expect(listener.messages.map((b) => b.toString())).toEqual(Array.from({ length: 16 }, (_, i) => `r${i + 1}`));
  });

  it('tracim - a state message that was in flight when replies came, and now waits for its retry, is the one a full queue drops first', async () => {
    const { path, destination, events, seen } = make(16);
    // s0 is dialled at once; the reply comes while it is in flight, so it queues behind it.
    destination.push(msg('s0', 's0'));
    destination.push(msg('r1'), true);
    await seen('down');
    for (let i = 2; i < 16; i++) destination.push(msg(`r${i}`), true);
    destination.push(msg('s16', 's16'));
    expect(events.filter((e) => e.startsWith('dropped'))).toEqual(['dropped 1: queue full (16 messages): dropped the oldest (t)']);
    const listener = await rawListener(path);
    cleanups.push(() => listener.close());
    await seen('idle');
    expect(listener.messages.map((b) => b.toString())).toEqual([...Array.from({ length: 15 }, (_, i) => `r${i + 1}`), 's16']);
  });

  it('tracim - urgent messages (acks, replies, pings) go ahead of the queued ones, in the order they came', async () => {
    const { path, destination, seen } = make(100);
    destination.push(msg('s0', 's0'));
    await seen('down');
    for (let i = 1; i <= 5; i++) destination.push(msg(`s${i}`, `s${i}`));
    destination.push(msg('ack'), true);
    destination.push(msg('reply'), true);
    destination.push(msg('s6', 's6'));
    destination.push(msg('ping'), true);
    const listener = await rawListener(path);
    cleanups.push(() => listener.close());
    await seen('idle');
    expect(listener.messages.map((b) => b.toString())).toEqual(['ack', 'reply', 'ping', 's0', 's1', 's2', 's3', 's4', 's5', 's6']);
  });
});

