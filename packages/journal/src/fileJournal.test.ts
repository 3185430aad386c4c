import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, type Logger, type OutboundEvent, type StateEvent } from '@patchbay/core';
import { afterEach, describe, expect, it } from 'vitest';
import { FileJournal, HEAD_STATES_PER_TURN } from './fileJournal.js';

const dirs: string[] = [];
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'journal-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const none = { states: () => [] as StateEvent[] };
/** The segment files (the directory also holds the lock and the reserve). */
const segmentFiles = (d: string) => readdirSync(d).filter((name) => name.startsWith('segment-'));
/** The journal calls its owner on a turn of its own: let it come. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
function state(seq: number, channel = 't'): StateEvent {
  return { kind: 'state', id: `id${seq}`, time: seq, origin: 'dev', device: 'dev', channel, value: seq };
}
function replayed(recovery: Awaited<ReturnType<FileJournal['open']>>): [number, OutboundEvent][] {
  const out: [number, OutboundEvent][] = [];
  recovery.replay((seq, event) => out.push([seq, event]));
  return out;
}

/**
 * A journal whose owner retains `channels` states (a live store, read by the head as it goes,
 * as the core's is), each come in as an event, then ch0 values, acknowledged, until a roll
 * leaves two segments. `put` journals one more value; `last` is the last seq.
 */
async function rolledWith(d: string, channels: number): Promise<{ j: FileJournal; put: (channel: string, value: number) => void; last: () => number }> {
  const store = new Map<string, StateEvent>();
  for (let i = 0; i < channels; i++) store.set(`ch${i}`, state(i, `ch${i}`));
  const j = new FileJournal({ dir: d, fsync: 'never', segmentBytes: 512 * 1024, maxBufferBytes: 512 });
  await j.open({ states: () => store.values() });
  for (const [i, event] of [...store.values()].entries()) j.append(i + 1, event);
  let seq = channels;
  const put = (channel: string, value: number) => {
    seq++;
    const event: StateEvent = { ...state(seq, channel), value };
    store.set(channel, event);
    j.append(seq, event);
    j.ack('h', seq);
    j.flush();
  };
  while (segmentFiles(d).length === 1) {
    put('ch0', seq + 1);
    if (seq > 100_000) throw new Error('no roll left two segments behind');
  }
  return { j, put, last: () => seq };
}

describe('journal', () => {
  it('journal - replays what a host has not acknowledged, with cursors and retained state', async () => {
    const d = dir();
    const first = new FileJournal({ dir: d, fsync: 'never' });
    await first.open(none);
    for (let seq = 1; seq <= 5; seq++) first.append(seq, state(seq, seq % 2 ? 'a' : 'b'));
    first.ack('fast', 5);
    first.ack('slow', 2);
    await first.close();

    const second = new FileJournal({ dir: d, fsync: 'never' });
    const recovery = await second.open(none);
    expect(recovery.lastSeq).toBe(5);
    expect(Object.fromEntries(recovery.cursors)).toEqual({ fast: 5, slow: 2 });
    expect(replayed(recovery).map(([seq]) => seq)).toEqual([3, 4, 5]);
    expect(recovery.states.map((s) => [s.channel, s.value]).sort()).toEqual([
      ['a', 5],
      ['b', 4],
    ]);
    await second.close();
  });

  it('journal - a command with no recorded reply comes back as open', async () => {
    const d = dir();
    const j = new FileJournal({ dir: d, fsync: 'never' });
    await j.open(none);
    const command = { kind: 'command' as const, id: 'c1', time: 1, origin: 'host', device: 'dev', channel: 'relay', value: true };
    j.command(command);
    j.command({ ...command, id: 'c2' });
    j.append(1, { kind: 'reply', id: 'r2', time: 2, origin: 'dev', commandId: 'c2', device: 'dev', to: 'host', ok: true });
    await j.close();
    const again = new FileJournal({ dir: d, fsync: 'never' });
    const recovery = await again.open(none);
    expect(recovery.openCommands.map((c) => c.id)).toEqual(['c1']);
    await again.close();
  });

  it('journal - skips a torn last record left by a crash mid-write', async () => {
    const d = dir();
    const j = new FileJournal({ dir: d, fsync: 'never' });
    await j.open(none);
    j.append(1, state(1));
    j.ack('h', 0);
    await j.close();
    const [segment] = segmentFiles(d);
    appendFileSync(join(d, segment as string), 'e\t2\t{"kind":"sta');
    const again = new FileJournal({ dir: d, fsync: 'never' });
    const recovery = await again.open(none);
    expect(replayed(recovery).map(([seq]) => seq)).toEqual([1]);
    await again.close();
  });

  it('journal - rolls segments and deletes those every host has passed', async () => {
    const d = dir();
    const j = new FileJournal({ dir: d, fsync: 'never', segmentBytes: 2048, maxBufferBytes: 512 });
    await j.open({ states: () => [state(0)] });
    for (let seq = 1; seq <= 400; seq++) {
      j.append(seq, state(seq));
      j.ack('h', seq);
      j.flush();
    }
    await j.close();
    const files = segmentFiles(d);
    // 400 records of ~100 bytes would need ~20 segments; acknowledged ones are gone.
    expect(files.length).toBeLessThanOrEqual(2);
    const again = new FileJournal({ dir: d, fsync: 'never' });
    const recovery = await again.open(none);
    expect(recovery.lastSeq).toBe(400);
    expect(recovery.cursors.get('h')).toBe(400);
    expect(replayed(recovery)).toEqual([]);
    await again.close();
  });

  it('journal - keeps segments a lagging host still needs', async () => {
    const d = dir();
    const j = new FileJournal({ dir: d, fsync: 'never', segmentBytes: 2048, maxBufferBytes: 512 });
    await j.open(none);
    j.ack('slow', 0);
    for (let seq = 1; seq <= 200; seq++) {
      j.append(seq, state(seq));
      j.ack('fast', seq);
      j.flush();
    }
    await j.close();
    const again = new FileJournal({ dir: d, fsync: 'never' });
    const recovery = await again.open(none);
    expect(replayed(recovery).map(([seq]) => seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    await again.close();
  });

  it('journal - a host behind by a whole segment is reported to the owner once per roll; what it re-appends replays to it alone', async () => {
    const d = dir();
    const j = new FileJournal({ dir: d, fsync: 'never', segmentBytes: 2048, maxBufferBytes: 512 });
    const reports: string[][] = [];
    let seq = 0;
    await j.open({
      states: () => [],
      heldBack: (hosts) => {
        reports.push([...hosts]);
        // What the gateway does: the slow host's one waiting event again, for it alone, and its cursor past the rest.
        j.appendFor('slow', ++seq, state(seq, 'owed'));
        j.ack('slow', seq - 1);
      },
    });
    j.ack('slow', 0);
    for (let i = 0; i < 400; i++) {
      j.append(++seq, state(seq));
      j.ack('fast', seq);
      j.flush();
      await nextTurn();
    }
    expect(reports.length).toBeGreaterThan(0);
    expect(reports.every((hosts) => hosts.length === 1 && hosts[0] === 'slow')).toBe(true);
    // Without the owner's help every segment since the start would stay (about 30 of them).
    expect(j.segments().length).toBeLessThanOrEqual(4);
    await j.close();

    const again = new FileJournal({ dir: d, fsync: 'never' });
    const recovery = await again.open(none);
    const visits: [number, string, string | undefined][] = [];
    recovery.replay((s, event, host) => visits.push([s, (event as StateEvent).channel, host]));
    // Of the re-appended copies only the latest is after slow's cursor, addressed to slow; then
    // what was appended since, for whichever hosts the routes name.
    expect(visits[0]).toEqual([(recovery.cursors.get('slow') as number) + 1, 'owed', 'slow']);
    expect(visits.slice(1).every(([, channel, host]) => channel === 't' && host === undefined)).toBe(true);
    expect(visits.at(-1)?.[0]).toBe(recovery.lastSeq);
    await again.close();
  });

  it('journal - hosts with more waiting than a segment holds are not written again at every roll their copies cause', async () => {
    const d = dir();
    const j = new FileJournal({ dir: d, fsync: 'never', segmentBytes: 2048, maxBufferBytes: 512 });
    const reports: string[][] = [];
    let seq = 0;
    let copies = 0;
    await j.open({
      states: () => [],
      heldBack: (hosts) => {
        reports.push([...hosts]);
        // Forty waiting channels each (~4 KB, two segments' worth) again, each cursor past the rest.
        for (const host of hosts) {
          const first = seq + 1;
          for (let i = 0; i < 40; i++) j.appendFor(host, ++seq, state(seq, `owed${i}`));
          copies += 40;
          j.ack(host, first - 1);
        }
      },
    });
    j.ack('slow1', 0);
    j.ack('slow2', 0);
    const appendNew = (): void => {
      j.append(++seq, state(seq));
      j.ack('fast', seq);
      j.flush();
    };
    while (reports.length === 0) {
      appendNew();
      await nextTurn();
    }
    // Nothing new comes in: the copies alone must not make a host held back again.
    for (let i = 0; i < 20; i++) {
      j.flush();
      await nextTurn();
    }
    expect(reports).toEqual([['slow1', 'slow2']]);
    // New records are another matter: once two closed segments hold them, both are asked for again.
    copies = 0;
    for (let i = 0; i < 400; i++) {
      appendNew();
      await nextTurn();
    }
    expect(reports.length).toBeGreaterThan(1);
    // About one copy a record that came in (480 seen), not forty for every roll.
    expect(copies).toBeLessThan(2 * 400);
    // The copies (four segments) and two of new records, besides the open one: not the ~20 the new records took.
    expect(j.segments().length).toBeLessThanOrEqual(10);
    const lastSeq = seq;
    await j.close();

    const again = new FileJournal({ dir: d, fsync: 'never' });
    const recovery = await again.open(none);
    const owed = new Map<string, string[]>();
    recovery.replay((_, event, host) => {
      if (host !== undefined) owed.set(host, [...(owed.get(host) ?? []), (event as StateEvent).channel]);
    });
    // The latest copy of every waiting channel is still there for each host.
    const all = Array.from({ length: 40 }, (_, i) => `owed${i}`);
    expect(Object.fromEntries(owed)).toEqual({ slow1: all, slow2: all });
    expect(recovery.lastSeq).toBe(lastSeq);
    await again.close();
  });

  it('journal - a host whose outbox still holds most of what it holds back (a burst) is not asked for copies; once it holds little, it is', async () => {
    const d = dir();
    const j = new FileJournal({ dir: d, fsync: 'never', segmentBytes: 2048, maxBufferBytes: 512 });
    const reports: string[][] = [];
    let seq = 0;
    // What the gateway's outbox for 'behind' holds: everything since its cursor at first.
    let waiting = (): number => seq;
    await j.open({ states: () => [], heldBack: (hosts) => reports.push([...hosts]), waiting: () => waiting() });
    j.ack('behind', 0);
    for (let i = 0; i < 200; i++) {
      j.append(++seq, state(seq));
      j.ack('fast', seq);
      j.flush();
      await nextTurn();
    }
    expect(j.segments().length).toBeGreaterThan(5);
    expect(reports).toEqual([]);
    // Coalesced down to a few slots: copies now cost far less than the segments they free.
    waiting = () => 3;
    for (let i = 0; i < 20; i++) {
      j.append(++seq, state(seq));
      j.ack('fast', seq);
      j.flush();
      await nextTurn();
    }
    expect(reports.length).toBeGreaterThan(0);
    expect(reports.every((hosts) => hosts.length === 1 && hosts[0] === 'behind')).toBe(true);
    await j.close();
  });

  it('journal - hosts that keep up are never reported as held back', async () => {
    const d = dir();
    const j = new FileJournal({ dir: d, fsync: 'never', segmentBytes: 2048, maxBufferBytes: 512 });
    const reports: string[][] = [];
    await j.open({ states: () => [], heldBack: (hosts) => reports.push([...hosts]) });
    for (let seq = 1; seq <= 400; seq++) {
      j.append(seq, state(seq));
      j.ack('a', seq);
      j.ack('b', seq - 1);
      j.flush();
      await nextTurn();
    }
    expect(j.segments().length).toBeLessThanOrEqual(2);
    expect(reports).toEqual([]);
    await j.close();
  });

  it('journal - a released host stops pinning segments, and stays released after a restart', async () => {
    const d = dir();
    const j = new FileJournal({ dir: d, fsync: 'never', segmentBytes: 2048, maxBufferBytes: 512 });
    await j.open(none);
    j.ack('gone', 0);
    for (let seq = 1; seq <= 200; seq++) {
      j.append(seq, state(seq));
      j.ack('kept', seq);
      j.flush();
    }
    const pinned = segmentFiles(d).length;
    expect(pinned).toBeGreaterThan(5);
    j.release('gone');
    j.flush();
    expect(segmentFiles(d).length).toBe(1);
    await j.close();
    const again = new FileJournal({ dir: d, fsync: 'never' });
    const recovery = await again.open(none);
    expect(Object.fromEntries(recovery.cursors)).toEqual({ kept: 200 });
    expect(replayed(recovery)).toEqual([]);
    expect(recovery.states.map((s) => s.value)).toEqual([200]);
    await again.close();
  });

  it('journal - (20) a roll writes a large head a slice per turn; until it is whole the segment closed before it stays, and a crash in the middle of it recovers every state at its newest value', async () => {
    const d = dir();
    const channels = Math.round(HEAD_STATES_PER_TURN * 3.5);
    const { j, put, last } = await rolledWith(d, channels);
    const ch0 = last();
    // Rolled, with the head's first slice written: the old segment stays, every host being past it.
    expect(segmentFiles(d)).toHaveLength(2);
    // A value for a channel the head has not reached yet, then a crash: the files as they are now.
    put(`ch${channels - 1}`, -1);
    const crashed = dir();
    cpSync(d, crashed, { recursive: true, filter: (path) => !path.endsWith('/lock') });

    let turns = 0;
    while (segmentFiles(d).length === 2) {
      await nextTurn();
      turns++;
      if (turns > 20) throw new Error('the head never finished');
    }
    // The other three slices, one per turn; then the old segment went.
    expect(turns).toBe(3);
    await j.close();

    for (const where of [crashed, d]) {
      const again = new FileJournal({ dir: where, fsync: 'never' });
      const recovery = await again.open(none);
      const values = new Map(recovery.states.map((s) => [s.channel, s.value]));
      expect(values.size, where).toBe(channels);
      expect(values.get('ch0'), where).toBe(ch0);
      expect(values.get(`ch${channels - 1}`), where).toBe(-1);
      expect(values.get('ch1234'), where).toBe(1234);
      await again.close();
    }
  });

  it('journal - closed while a rolled head is unfinished, it writes the rest first: the next start has every state from the new segment alone', async () => {
    const d = dir();
    const channels = HEAD_STATES_PER_TURN * 3;
    const { j } = await rolledWith(d, channels);
    await j.close();
    // Whole at close, so the next start's first flush may delete the old segment.
    const again = new FileJournal({ dir: d, fsync: 'never' });
    const recovery = await again.open(none);
    again.flush();
    expect(segmentFiles(d)).toHaveLength(1);
    expect(recovery.states).toHaveLength(channels);
    await again.close();
    const third = new FileJournal({ dir: d, fsync: 'never' });
    expect((await third.open(none)).states).toHaveLength(channels);
    await third.close();
  });

  it('journal - a segment head larger than segmentBytes rolls once, not forever', async () => {
    const d = dir();
    // Forty retained channels make a ~4 KB head, twice the segment size.
    const retained = { states: () => Array.from({ length: 40 }, (_, i) => state(i, `ch${i}`)) };
    const j = new FileJournal({ dir: d, fsync: 'never', segmentBytes: 2048, maxBufferBytes: 512 });
    await j.open(retained);
    for (let seq = 1; seq <= 50; seq++) {
      j.append(seq, state(seq));
      j.ack('h', seq);
      j.flush();
    }
    await j.close();
    // 50 events of ~100 bytes: a few rolls at most, each one compacting the one before.
    expect(segmentFiles(d).length).toBeLessThanOrEqual(2);
    const again = new FileJournal({ dir: d, fsync: 'never' });
    expect((await again.open(none)).lastSeq).toBe(50);
    await again.close();
  });

  it('journal - segments every host has passed are deleted at the next flush, not only at a roll (restarts add none)', async () => {
    const d = dir();
    let seq = 0;
    for (let run = 0; run < 20; run++) {
      const j = new FileJournal({ dir: d, fsync: 'never' });
      await j.open(none);
      for (let i = 0; i < 5; i++) j.append(++seq, state(seq));
      j.ack('h', seq);
      await j.close();
    }
    expect(segmentFiles(d).length).toBeLessThanOrEqual(2);
    const last = new FileJournal({ dir: d, fsync: 'never' });
    const recovery = await last.open(none);
    expect(recovery.lastSeq).toBe(100);
    expect(recovery.cursors.get('h')).toBe(100);
    await last.close();
  });

  it('journal - releasing a host also drops the commands it was owed a reply for', async () => {
    const d = dir();
    const j = new FileJournal({ dir: d, fsync: 'never' });
    await j.open(none);
    j.ack('gone', 0);
    j.ack('kept', 0);
    const command = { kind: 'command' as const, id: 'c1', time: 1, origin: 'gone', device: 'dev', channel: 'relay', value: true };
    j.command(command);
    j.command({ ...command, id: 'c2', origin: 'kept' });
    j.release('gone');
    await j.close();
    const again = new FileJournal({ dir: d, fsync: 'never' });
    expect((await again.open(none)).openCommands.map((c) => c.id)).toEqual(['c2']);
    await again.close();
  });

  it('journal - a roll that cannot open the next segment keeps appending to the current one, says so once, and rolls once it can', async () => {
    const d = dir();
    const errors: string[] = [];
    const logger: Logger = { ...silentLogger, error: (...args: unknown[]) => void errors.push(String(args.find((a) => typeof a === 'string'))), child: () => logger };
    const j = new FileJournal({ dir: d, fsync: 'never', segmentBytes: 2048, maxBufferBytes: 512, logger });
    await j.open(none);
    // The next segment's name is taken by a directory: opening it fails (EISDIR), even for root.
    const blocker = join(d, 'segment-00000002.v2.log');
    mkdirSync(blocker);
    for (let seq = 1; seq <= 100; seq++) {
      j.append(seq, state(seq));
      j.ack('h', Math.max(0, seq - 50));
      j.flush();
    }
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/cannot start a new segment.*appending to the current one/);
    rmSync(blocker, { recursive: true });
    for (let seq = 101; seq <= 110; seq++) {
      j.append(seq, state(seq));
      j.flush();
    }
    await j.close();
    expect(segmentFiles(d).length).toBeGreaterThanOrEqual(2);
    const again = new FileJournal({ dir: d, fsync: 'never' });
    const recovery = await again.open(none);
    expect(recovery.lastSeq).toBe(110);
    expect(replayed(recovery).map(([seq]) => seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 51));
    await again.close();
  });
});
