import { createGateway, ErrorCodes, type Gateway } from '@patchbay/core';
import { captureLogger, FakeDriver, FakeHost, MemoryJournal } from '@patchbay/core/mock';
import { afterEach, describe, expect, it } from 'vitest';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/**
 * One gateway generation over `journal`; a "crash" abandons it without stop(), and the next
 * generation gets `journal.reopen()`: what was written, with the old one cut off.
 */
function generation(journal: MemoryJournal, options: { withOther?: boolean } = {}) {
  const driver = new FakeDriver();
  const asker = new FakeHost();
  const other = new FakeHost();
  const log = captureLogger();
  const gateway: Gateway = createGateway({
    devices: [{ id: 'dev', definition: driver.definition }],
    hosts: [{ id: 'asker', definition: asker.definition }, ...(options.withOther === false ? [] : [{ id: 'other', definition: other.definition }])],
    journal,
    logger: log,
    outbox: { backoff: { delays: [20], jitter: 0 } },
  });
  return { driver, asker, other, journal, gateway, log };
}

/** Lets a command's journal write (reported at the end of the tick) land, as it does before any crash can matter. */
const afterFlush = () => new Promise((resolve) => setImmediate(resolve));

describe('core durability', () => {
  it('durability - a host down across a crash gets every reply and the latest value of every channel', async () => {
    const first = generation(new MemoryJournal());
    await first.gateway.start();
    await first.driver.waitRunning();
    first.asker.down = true;
    for (let i = 1; i <= 100; i++) first.driver.emit('temperature', i);
    first.driver.emit('humidity', 55);
    const replies = await Promise.all([1, 2, 3].map((n) => first.asker.submit({ device: 'dev', channel: 'relay', value: n % 2 === 1, ref: `c${n}` }, { deliverReply: true })));
    expect(replies.every((r) => r.ok)).toBe(true);
    // A command the device never answers before the crash: owed a reply all the same.
    first.driver.answer = () => new Promise(() => undefined);
    void first.asker.submit({ device: 'dev', channel: 'relay', value: true, ref: 'lost' }, { deliverReply: true });
    await afterFlush();
    // Crash: nothing is stopped or closed; the files are as the process left them.

    const second = generation(first.journal.reopen());
    cleanups.push(() => second.gateway.stop({ drainTimeoutMs: 200 }));
    await second.gateway.start();
    const repliesSeen = async (ref: string) => second.asker.waitFor((e) => e.kind === 'reply' && e.ref === ref, { what: `reply ${ref}` });
    for (const ref of ['c1', 'c2', 'c3']) expect(await repliesSeen(ref)).toMatchObject({ ok: true, to: 'asker' });
    expect(await repliesSeen('lost')).toMatchObject({ ok: false, code: ErrorCodes.GATEWAY_RESTARTED });
    await second.asker.waitFor((e) => e.kind === 'state' && e.channel === 'temperature' && e.value === 100, { what: 'temperature 100' });
    await second.asker.waitFor((e) => e.kind === 'state' && e.channel === 'humidity' && e.value === 55, { what: 'humidity 55' });
    // Coalesced while waiting: not 100 temperature events, one.
    expect(second.asker.delivered.filter((e) => e.kind === 'state' && e.channel === 'temperature')).toHaveLength(1);
    // Replies stayed with the host that asked.
    expect(second.other.delivered.filter((e) => e.kind === 'reply')).toEqual([]);
  });

  it('durability - events a host already acknowledged are not delivered again after a restart', async () => {
    const first = generation(new MemoryJournal());
    await first.gateway.start();
    await first.driver.waitRunning();
    first.driver.emit('temperature', 1);
    await first.asker.waitFor((e) => e.kind === 'state' && e.value === 1);
    await first.gateway.stop();

    const second = generation(first.journal.reopen());
    cleanups.push(() => second.gateway.stop({ drainTimeoutMs: 200 }));
    await second.gateway.start();
    await second.driver.waitRunning();
    second.driver.emit('temperature', 2);
    await second.asker.waitFor((e) => e.kind === 'state' && e.value === 2);
    expect(second.asker.delivered.filter((e) => e.kind === 'state' && e.value === 1)).toEqual([]);
  });

  it('durability - a host removed from the config has its journal cursor released, with a warning, so it pins nothing', async () => {
    const first = generation(new MemoryJournal());
    await first.gateway.start();
    await first.driver.waitRunning();
    first.other.down = true;
    for (let i = 1; i <= 5; i++) first.driver.emit('temperature', i);
    await first.asker.waitFor((e) => e.kind === 'state' && e.value === 5);
    await first.gateway.stop({ drainTimeoutMs: 50 });

    const second = generation(first.journal.reopen(), { withOther: false });
    await second.gateway.start();
    const warning = second.log.lines.find((l) => l.level === 'warn' && l.message.includes('host other is no longer configured'));
    // It was down for the five temperatures: its cursor stopped short of them.
    const { cursor, lastSeq } = warning?.fields as { cursor: number; lastSeq: number };
    expect(lastSeq - cursor).toBeGreaterThanOrEqual(5);
    await second.gateway.stop();

    // The release is journaled: the next start sees no cursor for it, and warns no more.
    const recovery = await second.journal.reopen().open({ states: () => [] });
    expect([...recovery.cursors.keys()]).toEqual(['asker']);
  });

});
