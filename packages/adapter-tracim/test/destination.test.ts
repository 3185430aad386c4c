import { join } from 'node:path';
import { Signal, tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { Destination } from '../src/destination.js';
import { rawListener } from './helpers.js';

describe('tracim - per-client destination queue', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void> | void)();
  });

  function make(maxQueue: number) {
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
      { sendTimeoutMs: 2000, maxQueue },
      {
        keepOnFailure: () => true,
        onReachability: (_p, reachable) => note(reachable ? 'up' : 'down'),
        onDropped: (_p, n, reason) => note(`dropped ${n}: ${reason}`),
        onIdle: () => note('idle'),
      },
    );
    cleanups.push(() => void destination.close());
    return { path, destination, events, seen };
  }
  const msg = (text: string, key?: string) => ({ bytes: Buffer.from(text), type: 't', key });

  it('tracim - while a client is unreachable its queue keeps the latest value per device+channel, in order, and delivers on return', async () => {
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
    expect(listener.messages.map((b) => b.toString())).toEqual(['a1', 'b1', 'reply', 'a21']);
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
});
