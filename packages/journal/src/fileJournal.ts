import { mkdirSync, readdirSync } from 'node:fs';
import {
  describeError,
  ErrorCodes,
  isPatchbayError,
  isSharedDescription,
  PatchbayError,
  silentLogger,
  type CommandEvent,
  type DescriptionEvent,
  type Journal,
  type JournalHealth,
  type JournalOwner,
  type JournalRecovery,
  type Logger,
  type OutboundEvent,
  type StateEvent,
} from '@patchbay/core';
import { acquireLock } from './lock.js';
import { defaultJournalOptions, type FileJournalOptions, type FsyncPolicy } from './options.js';
import { encodeRecord, parseSegmentName } from './records.js';
import { listSegments, readSegments } from './recovery.js';
import { SegmentWriter, type Segment } from './segmentWriter.js';

// One record a line, tab-separated so recovery can skip what it does not need without
// parsing JSON: `e<TAB>seq<TAB>event` an accepted event, `k<TAB>0<TAB>command` a command
// whose reply a host is owed, `c<TAB>seq<TAB>host` a host's delivered-up-to cursor,
// `s<TAB>0<TAB>state` a retained state value (segment head), `n<TAB>seq<TAB>` the last seq so far,
// `r<TAB>0<TAB>host` a host released (its cursor dropped), `t<TAB>seq<TAB>host<TAB>event` an
// event written again for one host only (host ids have no tabs; JSON strings escape theirs).
// Each line ends with `<TAB>crc` (see records.ts). `segment-NNNNNNNN.v2.log` files have the
// checksums; `segment-NNNNNNNN.log` ones come from the previous version, without.
/** While it cannot write, the journal says so again this often, with what it held back. */
const LOG_EVERY_MS = 60_000;
/** Retained states a rolled segment's head writes per turn: a millisecond or two of work. */
export const HEAD_STATES_PER_TURN = 1000;

/** The journal cannot write: since when, why, and what it logged last. */
interface Degraded {
  since: number;
  reason: string;
  lastLog: number;
  /** Records not journaled since the last log line. */
  sinceLog: number;
}

/**
 * The outbox journal: one append-only log of accepted events, written in batches, with a
 * delivered-up-to cursor per host (a log with consumer offsets). Segments roll at
 * `segmentBytes`; each new segment starts with the retained state, the open commands and the
 * cursors, so a segment is deleted once every host's cursor has passed its last event.
 *
 * Every record carries a CRC-32, and recovery checks each one (checksum, numbers, UTF-8, the
 * event schema) on its own: a corrupt record is skipped and reported, the ones around it kept.
 * When a write fails (disk full, I/O error) the journal is `degraded`: it refuses the commands
 * that need it (see {@link Journal.command}), keeps only what accepted commands are owed, and
 * tries again every `retryMs`, resuming in a new segment on its own once it can.
 */
export class FileJournal implements Journal {
  private readonly dir: string;
  private readonly fsync: FsyncPolicy;
  private readonly fsyncIntervalMs: number;
  private readonly maxBufferBytes: number;
  private readonly retryMs: number;
  private readonly logger: Logger;
  private readonly files: SegmentWriter;
  /** Between `open` and `close`: a segment to write to. Here, not asked of `files`, since `command` checks it for every command. */
  private writing = false;
  private buffer: string[] = [];
  private bufferBytes = 0;
  /** The records of `buffer` to write even when the rest cannot be: replies owed, cursors, releases. */
  private essentials: string[] = [];
  /** Who waits for the buffer's commands to be written. */
  private written: { id: string; done: (ok: boolean) => void }[] = [];
  private flushScheduled = false;
  private lastSeq = 0;
  /** Latest cursor per host, and which ones changed since the last flush. */
  private readonly cursors = new Map<string, number>();
  private readonly dirtyCursors = new Set<string>();
  private lastCursorWrite = 0;
  /** While degraded: the cursors last written, and the highest seq of a reply written since. */
  private readonly writtenCursors = new Map<string, number>();
  private owedUpTo = 0;
  private readonly openCommands = new Map<string, CommandEvent>();
  /** The JSON of each description shared between devices ({@link descriptionJson}). */
  private readonly descriptions = new WeakMap<object, string>();
  /** The seq of the last event written again for one host ({@link appendFor}). */
  private lastCopy = 0;
  private owner: JournalOwner = { states: () => [] };
  /** A {@link JournalOwner.heldBack} call is due on the next turn. */
  private heldBackDue = false;
  private fsyncTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private degraded: Degraded | undefined;
  private writeErrors = 0;
  private notJournaled = 0;
  private corruptRecords = 0;
  private releaseLock: (() => void) | undefined;
  /**
   * The retained states a rolled segment's head has still to write, a slice per turn. Until it
   * is done, the segment closed before it is not deleted: it holds the states not written yet.
   */
  private headLeft: Iterator<StateEvent> | undefined;
  private headScheduled = false;

  constructor(options: FileJournalOptions) {
    this.dir = options.dir;
    this.fsync = options.fsync ?? defaultJournalOptions.fsync;
    this.fsyncIntervalMs = options.fsyncIntervalMs ?? defaultJournalOptions.fsyncIntervalMs;
    this.maxBufferBytes = options.maxBufferBytes ?? 1024 * 1024;
    this.retryMs = options.retryMs ?? 1000;
    this.logger = options.logger ?? silentLogger;
    this.files = new SegmentWriter({
      dir: this.dir,
      fsync: this.fsync,
      fsyncIntervalMs: this.fsyncIntervalMs,
      segmentBytes: options.segmentBytes ?? defaultJournalOptions.segmentBytes,
      reserveBytes: options.reserveBytes ?? 256 * 1024,
      logger: this.logger,
    });
  }

  async open(owner: JournalOwner): Promise<JournalRecovery> {
    this.owner = owner;
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new PatchbayError(ErrorCodes.JOURNAL_IO, `cannot create the journal directory ${this.dir} (${describeError(error)})`, { cause: error, context: { dir: this.dir } });
    }
    this.releaseLock = acquireLock(this.dir, this.logger);
    try {
      return this.recover();
    } catch (error) {
      this.releaseLock();
      this.releaseLock = undefined;
      if (isPatchbayError(error)) throw error;
      throw new PatchbayError(ErrorCodes.JOURNAL_IO, `cannot open the journal in ${this.dir} (${describeError(error)})`, { cause: error, context: { dir: this.dir } });
    }
  }

  private recover(): JournalRecovery {
    const segments = listSegments(this.dir, this.logger);
    const recovery = readSegments({ dir: this.dir, segments, logger: this.logger });
    this.corruptRecords = recovery.corrupt.length;
    this.lastSeq = recovery.lastSeq;
    for (const [host, seq] of recovery.cursors) this.cursors.set(host, seq);
    for (const command of recovery.openCommands) this.openCommands.set(command.id, command);
    this.files.openAfter(segments, this.lastSeq);
    this.writing = true;
    this.startHead(recovery.states);
    try {
      this.files.makeReserve();
    } catch (error) {
      // Too little room to promise exactly one reply to what it accepts: refuse commands from the start.
      this.degrade(error, 0);
    }
    if (this.fsync === 'interval') {
      this.fsyncTimer = setInterval(() => this.files.sync(), this.fsyncIntervalMs);
      this.fsyncTimer.unref();
    }
    return recovery;
  }

  append(seq: number, event: OutboundEvent): void {
    this.lastSeq = seq;
    // A reply closes a command: it is what a crash must not lose, even from a full disk.
    const owed = event.kind === 'reply' && this.openCommands.delete(event.commandId);
    if (this.degraded !== undefined) {
      if (!owed) {
        this.holdBack();
        return;
      }
      this.owedUpTo = seq;
    }
    this.write('e\t' + seq + '\t' + (event.kind === 'description' ? this.descriptionJson(event) : JSON.stringify(event)), owed);
  }

  appendFor(host: string, seq: number, event: OutboundEvent): void {
    this.lastSeq = seq;
    this.lastCopy = seq;
    const owed = event.kind === 'reply';
    if (this.degraded !== undefined) {
      if (!owed) {
        this.holdBack();
        return;
      }
      this.owedUpTo = seq;
    }
    this.write('t\t' + seq + '\t' + host + '\t' + (event.kind === 'description' ? this.descriptionJson(event) : JSON.stringify(event)), owed);
  }

  /**
   * `JSON.stringify(event)`, byte for byte, with the description's JSON written once for all the
   * devices that share it (the core shares one deeply frozen description between devices alike:
   * 10,000 sim devices at start-up would stringify the same 1 kB each).
   */
  private descriptionJson(event: DescriptionEvent): string {
    const { description } = event;
    if (!isSharedDescription(description)) return JSON.stringify(event);
    let shared = this.descriptions.get(description);
    if (shared === undefined) this.descriptions.set(description, (shared = JSON.stringify(description)));
    // The event's own fields in its key order, as JSON.stringify writes them (undefined ones left out).
    let json = '{';
    for (const key of Object.keys(event)) {
      const value = key === 'description' ? shared : JSON.stringify((event as unknown as Record<string, unknown>)[key]);
      if (value === undefined) continue;
      json += (json.length === 1 ? '' : ',') + JSON.stringify(key) + ':' + value;
    }
    return json + '}';
  }

  command(command: CommandEvent, written?: (ok: boolean) => void): void {
    if (!this.writing || this.degraded !== undefined) {
      this.holdBack();
      written?.(false);
      return;
    }
    this.openCommands.set(command.id, command);
    if (written) this.written.push({ id: command.id, done: written });
    this.write('k\t0\t' + JSON.stringify(command));
  }

  ack(host: string, seq: number): void {
    if (this.cursors.get(host) === seq) return;
    this.cursors.set(host, seq);
    if (!this.dirtyCursors.has(host)) {
      this.dirtyCursors.add(host);
      this.schedule();
    }
  }

  release(host: string): void {
    if (!this.cursors.delete(host)) return;
    this.dirtyCursors.delete(host);
    // Its commands can never be answered to it: stop carrying them from segment head to head.
    for (const [id, command] of this.openCommands) if (command.origin === host) this.openCommands.delete(id);
    this.write('r\t0\t' + host, true);
    // Segments only the released host held back can go now, not at the next roll.
    this.compact();
  }

  flush(): void {
    this.flushScheduled = false;
    if (!this.writing) {
      this.settleWritten(false);
      return;
    }
    if (this.dirtyCursors.size > 0 && (this.degraded === undefined || this.cursorsDue())) {
      for (const host of this.dirtyCursors) {
        const seq = this.cursors.get(host) as number;
        const line = encodeRecord('c\t' + seq + '\t' + host);
        this.buffer.push(line);
        this.essentials.push(line);
        if (this.degraded !== undefined) this.writtenCursors.set(host, seq);
      }
      this.dirtyCursors.clear();
    }
    if (this.buffer.length === 0) return;
    const chunk = this.buffer.join('');
    const records = this.buffer.length;
    const essentials = this.essentials;
    this.buffer = [];
    this.bufferBytes = 0;
    this.essentials = [];
    const error = this.files.write(chunk);
    if (error === undefined) {
      this.settleWritten(true);
      if (this.degraded !== undefined) return;
      if (this.files.full && this.headLeft === undefined) this.roll();
      // Cursors moved (or a host was released): segments nobody needs any more can go.
      else if (this.files.closed.length > 0) this.compact();
      return;
    }
    this.writeErrors++;
    // The batch did not fit. What accepted commands are owed (their replies) and the cursors
    // may still: give up the reserve for them. The rest was routed from memory all the same.
    let kept = 0;
    if (essentials.length > 0 && (this.files.freeReserve() || essentials.length < records)) {
      if (this.files.write(essentials.join('')) === undefined) kept = essentials.length;
    }
    this.notJournaled += records - kept;
    this.settleWritten(false);
    if (this.degraded === undefined) this.degrade(error, records - kept);
    else {
      this.degraded.reason = describeError(error);
      this.degraded.sinceLog += records - kept;
    }
  }

  async close(): Promise<void> {
    // What the head has left is written now: the next start reads this segment's states.
    if (this.headLeft !== undefined && this.degraded === undefined) this.continueHead(Infinity);
    this.flush();
    // Degraded, it stays unfinished on disk, behind the segment closed before it: the next open reads both.
    this.headLeft = undefined;
    if (this.fsyncTimer) clearInterval(this.fsyncTimer);
    if (this.retryTimer) clearInterval(this.retryTimer);
    this.fsyncTimer = undefined;
    this.retryTimer = undefined;
    this.writing = false;
    this.files.close();
    this.releaseLock?.();
    this.releaseLock = undefined;
    this.cursors.clear();
    this.openCommands.clear();
  }

  health(): JournalHealth {
    const health: JournalHealth = {
      status: this.degraded === undefined ? 'ok' : 'degraded',
      bytes: this.files.bytes,
      segments: this.files.count,
      writeErrors: this.writeErrors,
      notJournaled: this.notJournaled,
      corruptRecords: this.corruptRecords,
    };
    if (this.degraded !== undefined) {
      health.reason = this.degraded.reason;
      health.degradedSince = this.degraded.since;
    }
    return health;
  }

  /** Current segment files, for tests and diagnostics. */
  segments(): string[] {
    return readdirSync(this.dir).filter((name) => parseSegmentName(name) !== undefined);
  }

  /**
   * Degraded, cursors go at most once a second, since the reserve is for what hosts are owed;
   * at once when one passes a reply written meanwhile, or a crash would deliver that reply twice.
   */
  private cursorsDue(): boolean {
    const now = Date.now();
    let due = now - this.lastCursorWrite >= 1000;
    for (const host of this.dirtyCursors) if ((this.writtenCursors.get(host) ?? -1) < this.owedUpTo) due = true;
    if (due) this.lastCursorWrite = now;
    return due;
  }

  private write(content: string, essential = false): void {
    const line = encodeRecord(content);
    this.buffer.push(line);
    if (essential) this.essentials.push(line);
    this.bufferBytes += line.length;
    if (this.bufferBytes >= this.maxBufferBytes) this.flush();
    else this.schedule();
  }

  /** A record not journaled while degraded: counted for health and the next log line. */
  private holdBack(): void {
    this.notJournaled++;
    if (this.degraded !== undefined) this.degraded.sinceLog++;
  }

  private settleWritten(ok: boolean): void {
    if (this.written.length === 0) return;
    const written = this.written;
    this.written = [];
    for (const { id, done } of written) {
      // Not on disk: the caller refuses it, so no later head may carry it as owed a reply.
      if (!ok) this.openCommands.delete(id);
      done(ok);
    }
  }

  private degrade(error: unknown, lost: number): void {
    const now = Date.now();
    this.degraded = { since: now, reason: describeError(error), lastLog: now, sinceLog: 0 };
    this.writtenCursors.clear();
    this.owedUpTo = 0;
    this.logger.error(
      { err: error, dir: this.dir, code: ErrorCodes.JOURNAL_UNAVAILABLE, notJournaled: lost },
      `journal cannot write to ${this.dir} (${this.degraded.reason}): commands that need it are refused (${ErrorCodes.JOURNAL_UNAVAILABLE}) and state keeps flowing to live hosts from memory; trying again every ${this.retryMs} ms`,
    );
    this.retryTimer = setInterval(() => this.retry(), this.retryMs);
    this.retryTimer.unref();
  }

  /**
   * Degraded: try to start a new segment with a full head (retained state, open commands,
   * cursors). If that is written, the disk has room again: journaling resumes there, and
   * the owner journals again what the hosts are still owed, which was routed from memory.
   */
  private retry(): void {
    const degraded = this.degraded;
    if (degraded === undefined || !this.writing) return;
    const now = Date.now();
    this.compact();
    const resumed = this.files.resume({ lastSeq: this.lastSeq, head: () => this.headLines(this.owner.states()).join('') });
    if ('error' in resumed) {
      degraded.reason = describeError(resumed.error);
      if (now - degraded.lastLog >= LOG_EVERY_MS) {
        this.logger.warn(
          { dir: this.dir, code: ErrorCodes.JOURNAL_UNAVAILABLE, notJournaled: degraded.sinceLog, total: this.notJournaled },
          `journal still cannot write to ${this.dir} (${degraded.reason}) after ${Math.round((now - degraded.since) / 1000)} s: ${degraded.sinceLog} records not journaled since the last line, ${this.notJournaled} in all; commands that need it are refused (${ErrorCodes.JOURNAL_UNAVAILABLE})`,
        );
        degraded.lastLog = now;
        degraded.sinceLog = 0;
      }
      return;
    }
    this.dirtyCursors.clear();
    // The resumed segment's head is whole: what a rolled head had left is in it.
    this.headLeft = undefined;
    this.degraded = undefined;
    clearInterval(this.retryTimer);
    this.retryTimer = undefined;
    this.logger.info(
      { dir: this.dir, segment: resumed.index, notJournaled: this.notJournaled, degradedMs: now - degraded.since },
      `journal can write to ${this.dir} again after ${Math.round((now - degraded.since) / 1000)} s; resumed in segment ${resumed.index}; ${this.notJournaled} records had not been journaled, and what the hosts are still owed is journaled again`,
    );
    this.flush();
    const hosts = [...this.cursors.keys()];
    if (this.owner.heldBack !== undefined && hosts.length > 0) {
      setImmediate(() => {
        if (this.writing) this.owner.heldBack?.(hosts);
      });
    }
  }

  private schedule(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** A new segment's first records: everything older segments would otherwise be kept for. */
  private headLines(states: Iterable<StateEvent>): string[] {
    const head: string[] = [encodeRecord('n\t' + this.lastSeq + '\t')];
    for (const state of states) head.push(stateRecord(state));
    for (const command of this.openCommands.values()) head.push(encodeRecord('k\t0\t' + JSON.stringify(command)));
    for (const [host, seq] of this.cursors) head.push(encodeRecord('c\t' + seq + '\t' + host));
    return head;
  }

  /** Puts the new segment's head first in the buffer, for the next batch to write. */
  private startHead(states: Iterable<StateEvent>): void {
    const head = this.headLines(states);
    this.files.countHead(head);
    // Not unshift(...head): as many arguments as states overflows the stack at a few hundred thousand.
    this.buffer = head.concat(this.buffer);
    for (const host of this.cursors.keys()) this.dirtyCursors.delete(host);
  }

  /**
   * A new segment, whose head goes out a slice of {@link HEAD_STATES_PER_TURN} retained states
   * per turn: its first records (seq, open commands, cursors) and first slice now, the rest on
   * the next turns. At 10,000 devices the whole head was 30,000 states and 50 ms in one turn
   * every few seconds, which every value waited through (issue 20). Records appended meanwhile
   * sit among the head's; recovery applies them in file order, and each head slice holds the
   * states as they are when it is written, never older than a record before it.
   */
  private roll(): void {
    if (!this.files.roll(this.lastSeq)) return;
    this.startHead([]);
    this.headLeft = this.owner.states()[Symbol.iterator]();
    this.continueHead(HEAD_STATES_PER_TURN);
  }

  /** Writes up to `count` more of the head's states; once they are all written, segments may go. */
  private continueHead(count: number): void {
    const left = this.headLeft;
    if (left === undefined) return;
    const lines: string[] = [];
    let done = false;
    while (lines.length < count) {
      const next = left.next();
      if (next.done === true) {
        done = true;
        break;
      }
      lines.push(stateRecord(next.value));
    }
    this.files.countHead(lines);
    for (const line of lines) this.buffer.push(line);
    this.flush();
    // A failed write leaves the head unfinished: the degraded journal's resumption writes a whole one.
    if (this.degraded !== undefined) return;
    if (!done) {
      this.scheduleHead();
      return;
    }
    this.headLeft = undefined;
    this.compact();
    this.noticeHeldBack();
  }

  private scheduleHead(): void {
    if (this.headScheduled) return;
    this.headScheduled = true;
    setImmediate(() => {
      this.headScheduled = false;
      if (this.writing && this.degraded === undefined) this.continueHead(HEAD_STATES_PER_TURN);
    });
  }

  /**
   * After a roll's compaction, two closed segments or more are left: a host's cursor is older
   * than the segment before the one just closed, so it has been away for a whole segment.
   * Its owner journals again what it still owes that host (see {@link JournalOwner.heldBack}),
   * which bounds the files to what is owed and a few segments however long a host stays down.
   * On its own turn: the owner appends, and a roll is not the place to take writes.
   *
   * Copies are asked for only where they are worth it. A host whose outbox still holds most of
   * what it holds back (a start-up burst: 10,000 devices' first values, not yet coalesced) would
   * be written again nearly whole, for little to delete; it is left to catch up. And what the
   * owner wrote again does not count: hosts with more waiting than a segment holds would
   * otherwise fill segments with their copies, be held back by them (their own, or another slow
   * host's) at the next roll, and be written again, segments each time, over what little came
   * in meanwhile. Hosts are asked for again once two closed segments hold records from after
   * the last copy.
   */
  private noticeHeldBack(): void {
    const closed = this.files.closed;
    if (closed.length < 2 || this.owner.heldBack === undefined || this.heldBackDue) return;
    const oldest = (closed[0] as Segment).maxSeq;
    if (this.lastCopy >= (closed[closed.length - 2] as Segment).maxSeq) return;
    const hosts: string[] = [];
    for (const [host, seq] of this.cursors) {
      // Every event has a seq: the distance is how many events the host holds back.
      if (seq < oldest && 2 * (this.owner.waiting?.(host) ?? 0) <= this.lastSeq - seq) hosts.push(host);
    }
    if (hosts.length === 0) return;
    this.heldBackDue = true;
    setImmediate(() => {
      this.heldBackDue = false;
      if (this.writing) this.owner.heldBack?.(hosts);
    });
  }

  /**
   * Delete closed segments every host has moved past. While a head is unfinished, the segment
   * closed last stays whatever the cursors say: its whole head and records hold the states the
   * new head has not written yet (older ones can go, as that head covers them; a degraded
   * journal may need their room to resume).
   */
  private compact(): void {
    let lowest = Infinity;
    for (const seq of this.cursors.values()) lowest = Math.min(lowest, seq);
    this.files.compact(lowest, this.headLeft === undefined ? 0 : 1);
  }
}

/** A retained state at a segment's head (seq 0: it is not an event to replay). */
function stateRecord(state: StateEvent): string {
  return encodeRecord('s\t0\t' + JSON.stringify(state));
}
