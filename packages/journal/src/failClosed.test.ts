import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureLogger } from '@patchbay/testing';
import { ErrorCodes, type StateEvent } from '@patchbay/core';
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
function state(seq: number): StateEvent {
  return { kind: 'state', id: `id${seq}`, time: seq, origin: 'dev', device: 'dev', channel: 't', value: seq };
}
const command = (id: string) => ({ kind: 'command' as const, id, time: 1, origin: 'h', device: 'dev', channel: 'relay', value: true });
const written = (j: FileJournal, id: string) => new Promise<boolean>((resolve) => j.command(command(id), resolve));

describe('journal lock', () => {
  it('lock - a second journal on a directory whose lock a live process holds refuses, naming the directory and the pid', async () => {
    const d = dir();
    // The test runner's parent: alive for the whole test, and not this process.
    writeFileSync(join(d, 'lock'), `${process.ppid}\n`);
    const j = new FileJournal({ dir: d, fsync: 'never' });
    const error = await j.open(none).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCodes.JOURNAL_LOCKED, context: { dir: d, pid: process.ppid } });
    expect((error as Error).message).toContain(`${d} is in use by another gateway (pid ${process.ppid})`);
    expect(readFileSync(join(d, 'lock'), 'utf8')).toBe(`${process.ppid}\n`);
  });

  it('lock - a lock left by a process that is gone is taken over with a warning, and released on close', async () => {
    const d = dir();
    const dead = spawnSync(process.execPath, ['-e', '']).pid as number;
    writeFileSync(join(d, 'lock'), `${dead}\n`);
    const log = captureLogger();
    const j = new FileJournal({ dir: d, fsync: 'never', logger: log });
    await j.open(none);
    expect(log.find(new RegExp(`taking over the lock of .* left by pid ${dead}, which is no longer running`), 'warn')).toHaveLength(1);
    expect(readFileSync(join(d, 'lock'), 'utf8')).toBe(`${process.pid}\n`);
    await j.close();
    expect(existsSync(join(d, 'lock'))).toBe(false);
  });
});

describe('journal on a full disk', () => {
  it('full disk - a write that fails degrades the journal: commands are refused, it logs once, and it resumes on its own when it can write', async () => {
    const d = dir();
    const log = captureLogger();
    const heldBack: string[][] = [];
    const j = new FileJournal({ dir: d, fsync: 'never', segmentBytes: 4096, maxBufferBytes: 1024, retryMs: 20, logger: log });
    await j.open({ states: () => [state(0)], heldBack: (hosts) => void heldBack.push([...hosts]) });
    expect(await written(j, 'before')).toBe(true);
    // The next segment is the kernel's full device: every write to it fails with ENOSPC.
    const next = join(d, 'segment-00000002.v2.log');
    symlinkSync('/dev/full', next);
    let seq = 0;
    while (j.health().status === 'ok' && seq < 10_000) {
      j.append(++seq, state(seq));
      j.ack('h', seq);
      j.flush();
    }
    const health = j.health();
    expect(health).toMatchObject({ status: 'degraded', reason: expect.stringContaining('ENOSPC'), writeErrors: 1 });
    expect(log.find(/journal cannot write to .*ENOSPC.*commands that need it are refused \(PB213_JOURNAL_UNAVAILABLE\)/, 'error')).toHaveLength(1);
    // Refused at once while degraded; more failed writes are counted, not logged.
    expect(await written(j, 'during')).toBe(false);
    for (let i = 0; i < 50; i++) j.append(++seq, state(seq));
    j.flush();
    expect(j.health().notJournaled).toBeGreaterThanOrEqual(50);
    expect(log.find(/journal cannot write/, 'error')).toHaveLength(1);
    // Space comes back: the next attempt writes a new segment's head and journaling resumes.
    unlinkSync(next);
    await log.waitFor(/journal can write to .* again/, { level: 'info', timeoutMs: 10_000 });
    expect(j.health()).toMatchObject({ status: 'ok', writeErrors: 1 });
    expect(j.health().reason).toBeUndefined();
    expect(await written(j, 'after')).toBe(true);
    // The owner is asked to journal again what the hosts were owed meanwhile.
    await new Promise((resolve) => setImmediate(resolve));
    expect(heldBack).toEqual([['h']]);
    await j.close();
    const again = new FileJournal({ dir: d, fsync: 'never' });
    const recovery = await again.open(none);
    expect(recovery.corrupt).toEqual([]);
    expect(recovery.openCommands.map((c) => c.id).sort()).toEqual(['after', 'before']);
    await again.close();
    expect(readdirSync(d)).not.toContain('segment-00000002.v2.log');
  });

  it('full disk - a roll whose head cannot be written keeps the segment before it, though every host is past it (20): a crash meanwhile loses no state, and once it can write a whole head replaces the unfinished one', async () => {
    const d = dir();
    const log = captureLogger();
    const channels = HEAD_STATES_PER_TURN * 3;
    const store = new Map<string, StateEvent>();
    for (let i = 0; i < channels; i++) store.set(`ch${i}`, { ...state(i), channel: `ch${i}` });
    const j = new FileJournal({ dir: d, fsync: 'never', segmentBytes: 512 * 1024, maxBufferBytes: 1024, retryMs: 20, logger: log });
    await j.open({ states: () => store.values() });
    let seq = 0;
    for (const event of store.values()) {
      j.append(++seq, event);
      j.ack('h', seq);
      j.ack('g', seq);
    }
    j.flush();
    // The next segment is the kernel's full device: the roll's head fails with ENOSPC.
    const next = join(d, 'segment-00000002.v2.log');
    symlinkSync('/dev/full', next);
    while (j.health().status === 'ok' && seq < 100_000) {
      const event = { ...state(++seq), channel: 'ch0' };
      store.set('ch0', event);
      j.append(seq, event);
      j.ack('h', seq);
      j.flush();
    }
    expect(j.health()).toMatchObject({ status: 'degraded', reason: expect.stringContaining('ENOSPC') });
    // Host g goes (a reload), which compacts: every host left is past segment 1, which stays all the same.
    j.release('g');
    expect(readdirSync(d)).toContain('segment-00000001.v2.log');
    // A crash now: the files as they are (the full device's segment holds nothing).
    const crashed = dir();
    cpSync(d, crashed, { recursive: true, filter: (path) => !path.endsWith('/lock') && path !== next });
    const fromCrash = new FileJournal({ dir: crashed, fsync: 'never' });
    expect((await fromCrash.open(none)).states).toHaveLength(channels);
    await fromCrash.close();

    unlinkSync(next);
    await log.waitFor(/journal can write to .* again/, { level: 'info', timeoutMs: 10_000 });
    await j.close();
    const again = new FileJournal({ dir: d, fsync: 'never' });
    const recovery = await again.open(none);
    expect(recovery.states).toHaveLength(channels);
    expect(recovery.states.find((s) => s.channel === 'ch0')?.value).toBe(seq);
    await again.close();
  });
});
