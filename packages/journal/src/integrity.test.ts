import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureLogger } from '@patchbay/testing';
import { ErrorCodes, type JournalRecovery, type StateEvent } from '@patchbay/core';
import { afterEach, describe, expect, it } from 'vitest';
import { FileJournal } from './fileJournal.js';

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
function state(seq: number, channel = 't'): StateEvent {
  return { kind: 'state', id: `id${seq}`, time: seq, origin: 'dev', device: 'dev', channel, value: seq };
}
const seqs = (recovery: JournalRecovery) => {
  const out: number[] = [];
  recovery.replay((seq) => out.push(seq));
  return out;
};
const segmentFiles = (d: string) =>
  readdirSync(d)
    .filter((name) => name.startsWith('segment-'))
    .sort();

/** Changes the file in place: `edit` gets its bytes and returns where it changed, for the expected offset. */
function corrupt(path: string, edit: (bytes: Buffer) => void): void {
  const bytes = readFileSync(path);
  edit(bytes);
  writeFileSync(path, bytes);
}
/** Byte offset of the first line starting with `prefix`. */
function lineAt(bytes: Buffer, prefix: string): number {
  const at = bytes.indexOf(prefix);
  if (at !== 0 && bytes[at - 1] !== 0x0a) throw new Error(`no line starts with ${prefix}`);
  return at;
}

/** A journal with events 1..10 and two cursor records for `h` (3, then 7), closed. */
async function written(d: string): Promise<string> {
  const j = new FileJournal({ dir: d, fsync: 'never' });
  await j.open(none);
  for (let seq = 1; seq <= 10; seq++) j.append(seq, state(seq));
  j.ack('h', 3);
  j.ack('other', 10);
  j.flush();
  j.ack('h', 7);
  await j.close();
  const [segment] = segmentFiles(d);
  expect(segment).toMatch(/^segment-\d{8}\.v2\.log$/);
  return segment as string;
}

async function reopen(d: string) {
  const log = captureLogger();
  const j = new FileJournal({ dir: d, fsync: 'never', logger: log });
  const recovery = await j.open(none);
  return { j, recovery, log };
}

describe('journal integrity', () => {
  it('integrity - a flipped digit in a cursor record is caught by its checksum: skipped, reported with segment and offset, the older cursor kept', async () => {
    const d = dir();
    const segment = await written(d);
    let offset = -1;
    corrupt(join(d, segment), (bytes) => {
      offset = lineAt(bytes, 'c\t7\th');
      bytes[offset + 2] = 0x39; // 7 -> 9: the host would skip two events it never had
    });
    const { j, recovery, log } = await reopen(d);
    expect(recovery.corrupt).toEqual([{ segment, offset, reason: 'checksum' }]);
    expect(recovery.cursors.get('h')).toBe(3);
    expect(recovery.cursors.get('other')).toBe(10);
    // Everything is replayed: each host's own cursor decides (a lost cursor costs duplicates, not losses).
    expect(seqs(recovery)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const [warning] = log.find(/corrupt record/, 'warn');
    expect(warning?.message).toContain(`${segment} at byte ${offset}`);
    expect(warning?.fields).toMatchObject({ code: ErrorCodes.JOURNAL_CORRUPT, segment, offset });
    expect(j.health().corruptRecords).toBe(1);
    await j.close();
  });

  it('integrity - a non-digit in the head record is skipped; numbering goes on from the events, never NaN', async () => {
    const d = dir();
    const first = new FileJournal({ dir: d, fsync: 'never' });
    await first.open(none);
    for (let seq = 1; seq <= 5; seq++) first.append(seq, state(seq));
    first.ack('h', 2);
    await first.close();
    const second = new FileJournal({ dir: d, fsync: 'never' });
    await second.open(none);
    for (let seq = 6; seq <= 8; seq++) second.append(seq, state(seq));
    await second.close();
    const last = segmentFiles(d).at(-1) as string;
    let offset = -1;
    corrupt(join(d, last), (bytes) => {
      offset = lineAt(bytes, 'n\t5\t');
      bytes[offset + 2] = 0x78; // 5 -> x
    });
    const { j, recovery } = await reopen(d);
    expect(recovery.corrupt).toEqual([{ segment: last, offset, reason: 'checksum' }]);
    expect(recovery.lastSeq).toBe(8);
    expect(seqs(recovery)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await j.close();
  });

  it('integrity - a flipped byte in a record body loses that record only', async () => {
    const d = dir();
    const segment = await written(d);
    let offset = -1;
    corrupt(join(d, segment), (bytes) => {
      offset = lineAt(bytes, 'e\t5\t');
      const value = bytes.indexOf('"value":5', offset);
      bytes[value + 8] = 0x36; // 5 -> 6: valid JSON, a valid event, the wrong value
    });
    const { j, recovery } = await reopen(d);
    expect(recovery.corrupt).toEqual([{ segment, offset, reason: 'checksum' }]);
    expect(seqs(recovery)).toEqual([1, 2, 3, 4, 6, 7, 8, 9, 10]);
    expect(recovery.states.map((s) => s.value)).toEqual([10]);
    await j.close();
  });

  it('integrity - invalid UTF-8 inside a record is caught, not replaced', async () => {
    const d = dir();
    const segment = await written(d);
    let offset = -1;
    corrupt(join(d, segment), (bytes) => {
      offset = lineAt(bytes, 'e\t3\t');
      bytes[bytes.indexOf('"dev"', offset) + 2] = 0xff;
    });
    const { j, recovery } = await reopen(d);
    expect(recovery.corrupt).toEqual([{ segment, offset, reason: 'checksum' }]);
    expect(seqs(recovery)).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10]);
    await j.close();
  });

  it('integrity - a journal from the previous version (no checksums) is read, checked record by record, and says so', async () => {
    const d = dir();
    const event = (seq: number) => JSON.stringify(state(seq));
    const command = JSON.stringify({ kind: 'command', id: 'c1', time: 1, origin: 'h', device: 'dev', channel: 'relay', value: true });
    const lines = [
      'n\t0',
      `e\t1\t${event(1)}`,
      `k\t0\t${command}`,
      `e\t2\t${event(2)}`,
      // The previous version's silent losses: a cursor with a non-digit, invalid UTF-8, JSON that is not an event.
      'c\t1x\th',
      `e\t3\t${event(3).replace('dev', 'd\u00e9v')}`,
      `e\t4\t{"kind":"state","id":"x"}`,
      `e\t5\t${event(5)}`,
      'c\t1\th',
      '',
    ];
    const text = Buffer.from(lines.join('\n'), 'utf8');
    // é's UTF-8 is C3 A9: keep the lead byte alone, which is invalid UTF-8.
    const broken = Buffer.concat([text.subarray(0, text.indexOf(0xa9)), text.subarray(text.indexOf(0xa9) + 1)]);
    writeFileSync(join(d, 'segment-00000001.log'), broken);
    const { j, recovery, log } = await reopen(d);
    expect(log.find(/previous format/, 'info')).toHaveLength(1);
    expect(recovery.corrupt.map((c) => c.reason)).toEqual(['number', 'utf8', 'schema']);
    expect(recovery.corrupt.every((c) => c.segment === 'segment-00000001.log')).toBe(true);
    expect(recovery.cursors.get('h')).toBe(1);
    expect(recovery.lastSeq).toBe(5);
    expect(recovery.openCommands.map((c) => c.id)).toEqual(['c1']);
    expect(seqs(recovery)).toEqual([1, 2, 5]);
    // New records go to a new segment with checksums; the old one goes once every host is past it.
    j.ack('h', 5);
    j.flush();
    await j.close();
    expect(segmentFiles(d)).toEqual([expect.stringMatching(/^segment-00000002\.v2\.log$/)]);
  });
});
