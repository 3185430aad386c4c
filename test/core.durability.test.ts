import { createGateway, type Gateway } from '@patchbay/core';
import { FileJournal, type FileJournalOptions } from '@patchbay/journal';
import { captureLogger, FakeDriver, FakeHost, tempDir } from '@patchbay/testing';
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** One gateway generation over a journal directory; a "crash" abandons it without stop(). */
function generation(dir: string, options: { journal?: Partial<FileJournalOptions> } = {}) {
  const driver = new FakeDriver();
  const asker = new FakeHost();
  const other = new FakeHost();
  const journal = new FileJournal({ dir, fsync: 'never', ...options.journal });
  const log = captureLogger();
  const gateway: Gateway = createGateway({
    devices: [{ id: 'dev', definition: driver.definition }],
    hosts: [
      { id: 'asker', definition: asker.definition },
      { id: 'other', definition: other.definition },
    ],
    journal,
    logger: log,
    outbox: { backoff: { delays: [20], jitter: 0 } },
  });
  return { driver, asker, other, journal, gateway, log };
}

/** Lets the journal's end-of-tick batch reach the file, as it does before any crash can matter. */
const afterFlush = () => new Promise((resolve) => setImmediate(resolve));

/*
 * The core's restart contract (replies owed across a crash, the latest values, cursors, a
 * removed host's release) is tested in packages/core/test/durability.test.ts over the core's
 * MemoryJournal. These two stay here, with the real FileJournal, because what they check only
 * exists on disk: that a host down for long does not make the journal keep every segment since
 * (the core rewrites what it still owes, `heldBack`/`appendFor`, and the journal deletes
 * segments), counted in segment files.
 */
describe('core durability with the file journal', () => {
  it('durability - a host down for a long time does not grow the journal without bound; after a crash it gets every reply and the latest values, once', async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    // Small segments, so that 10,000 events would be hundreds of them if the down host pinned them all.
    const make = () => generation(dir.path, { journal: { segmentBytes: 4096, maxBufferBytes: 1024 } });
    const first = make();
    await first.gateway.start();
    await first.driver.waitRunning();
    first.asker.down = true;
    const replies = await Promise.all([1, 2, 3].map((n) => first.asker.submit({ device: 'dev', channel: 'relay', value: n % 2 === 1, ref: `c${n}` }, { deliverReply: true })));
    expect(replies.every((r) => r.ok)).toBe(true);
    let most = 0;
    for (let i = 1; i <= 10_000; i++) {
      first.driver.emit(i % 2 === 0 ? 'temperature' : 'humidity', i);
      if (i % 250 === 0) {
        await afterFlush();
        most = Math.max(most, readdirSync(dir.path).length);
      }
    }
    await first.other.waitFor((e) => e.kind === 'state' && e.value === 10_000, { what: 'the last temperature at the host that is up' });
    await afterFlush();
    // What the down host waits for is a handful of slots (two channels, three replies, a
    // status): the journal keeps that, not every segment since it went down (about 400).
    expect(most).toBeLessThanOrEqual(6);
    // Crash: nothing is stopped or closed.

    const second = make();
    cleanups.push(() => second.gateway.stop({ drainTimeoutMs: 200 }));
    await second.gateway.start();
    await second.asker.waitFor((e) => e.kind === 'state' && e.channel === 'temperature' && e.value === 10_000, { what: 'temperature 10000' });
    await second.asker.waitFor((e) => e.kind === 'state' && e.channel === 'humidity' && e.value === 9_999, { what: 'humidity 9999' });
    for (const ref of ['c1', 'c2', 'c3']) await second.asker.waitFor((e) => e.kind === 'reply' && e.ref === ref, { what: `reply ${ref}` });
    await second.gateway.stop({ drainTimeoutMs: 200 });
    const delivered = second.asker.delivered;
    expect(delivered.filter((e) => e.kind === 'reply').map((e) => (e.kind === 'reply' ? e.ref : undefined))).toEqual(['c1', 'c2', 'c3']);
    expect(delivered.filter((e) => e.kind === 'state' && e.channel === 'temperature')).toHaveLength(1);
    expect(delivered.filter((e) => e.kind === 'state' && e.channel === 'humidity')).toHaveLength(1);
    // The host that was up had everything: nothing comes again.
    expect(second.other.delivered.filter((e) => e.kind === 'state' && typeof e.value === 'number' && e.value <= 10_000)).toEqual([]);
  });

  it('durability - a host routed only a quiet device does not hold journal segments back', async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const busy = new FakeDriver();
    const quiet = new FakeDriver();
    const h1 = new FakeHost();
    const h2 = new FakeHost();
    const journal = new FileJournal({ dir: dir.path, fsync: 'never', segmentBytes: 4096, maxBufferBytes: 1024 });
    const gateway = createGateway({
      devices: [
        { id: 'busy', definition: busy.definition },
        { id: 'quiet', definition: quiet.definition },
      ],
      hosts: [
        { id: 'h1', definition: h1.definition },
        { id: 'h2', definition: h2.definition },
      ],
      routes: [
        { devices: ['busy'], hosts: ['h1'] },
        { devices: ['quiet'], hosts: ['h2'] },
      ],
      journal,
    });
    cleanups.push(() => gateway.stop());
    await gateway.start();
    await busy.waitRunning();
    await quiet.waitRunning();
    quiet.emit('temperature', 1);
    await h2.waitFor((e) => e.kind === 'state');
    for (let i = 0; i < 10_000; i++) {
      busy.emit('temperature', i);
      if (i % 500 === 0) await afterFlush();
    }
    await h1.waitFor((e) => e.kind === 'state' && e.value === 9999);
    await afterFlush();
    const segments = readdirSync(dir.path).length;
    await gateway.stop();
    // h2 got its one event long ago; its cursor still follows the log (within the 4096-event
    // catch-up step), so the 10,000 events' segments (~370 of 4 KB) are not all kept for it.
    const reader = new FileJournal({ dir: dir.path, fsync: 'never' });
    const recovery = await reader.open({ states: () => [] });
    await reader.close();
    expect(recovery.cursors.get('h2')).toBeGreaterThanOrEqual(recovery.lastSeq - 4096);
    expect(segments).toBeLessThan(200);
  });
});
