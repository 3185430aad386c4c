import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  describeError,
  ErrorCodes,
  isPatchbayError,
  PatchbayError,
  silentLogger,
  type CommandEvent,
  type Journal,
  type JournalHealth,
  type JournalOwner,
  type JournalRecovery,
  type Logger,
  type OutboundEvent,
  type StateEvent,
} from '@patchbay/core';
import { acquireLock } from './lock.js';
import { encodeRecord, sealRecords, segmentName, type SegmentFormat } from './records.js';
import { readSegments } from './recovery.js';
import { defaultJournalOptions, type FileJournalOptions, type FsyncPolicy } from './options.js';

// One record a line, tab-separated so recovery can skip what it does not need without
// parsing JSON: `e<TAB>seq<TAB>event` an accepted event, `k<TAB>0<TAB>command` a command
// whose reply a host is owed, `c<TAB>seq<TAB>host` a host's delivered-up-to cursor,
// `s<TAB>0<TAB>state` a retained state value (segment head), `n<TAB>seq<TAB>` the last seq so far,
// `r<TAB>0<TAB>host` a host released (its cursor dropped), `t<TAB>seq<TAB>host<TAB>event` an
// event written again for one host only (host ids have no tabs; JSON strings escape theirs).
// Each line ends with `<TAB>crc` (see records.ts). `segment-NNNNNNNN.v2.log` files have the
// checksums; `segment-NNNNNNNN.log` ones come from the previous version, without.
const SEGMENT = /^segment-(\d{8})(\.v2)?\.log$/;
const RESERVE = 'reserve';
/** While it cannot write, the journal says so again this often, with what it held back. */
const LOG_EVERY_MS = 60_000;

/** A segment file on disk. */
interface Segment {
  index: number;
  format: SegmentFormat;
  /** Highest seq it may hold, for deletion. */
  maxSeq: number;
  bytes: number;
}

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
  private readonly segmentBytes: number;
  private readonly maxBufferBytes: number;
  private readonly reserveBytes: number;
  private readonly retryMs: number;
  private readonly logger: Logger;
  private fd: number | undefined;
  private segmentIndex = 0;
  private segmentSize = 0;
  /** Bytes of the current segment's head (state, open commands, cursors): not counted towards a roll. */
  private headBytes = 0;
  /** The last roll could not open a new segment (logged once until one opens). */
  private rollFailing = false;
  private buffer: string[] = [];
  private bufferBytes = 0;
  /** The records of `buffer` to write even when the rest cannot be: replies owed, cursors, releases. */
  private essentials: string[] = [];
  /** Who waits for the buffer's commands to be written. */
  private written: { id: string; done: (ok: boolean) => void }[] = [];
  private flushScheduled = false;
  private lastFsync = 0;
  private lastSeq = 0;
  /** Latest cursor per host, and which ones changed since the last flush. */
  private readonly cursors = new Map<string, number>();
  private readonly dirtyCursors = new Set<string>();
  private lastCursorWrite = 0;
  /** While degraded: the cursors last written, and the highest seq of a reply written since. */
  private readonly writtenCursors = new Map<string, number>();
  private owedUpTo = 0;
  private readonly openCommands = new Map<string, CommandEvent>();
  /** The seq of the last event written again for one host ({@link appendFor}). */
  private lastCopy = 0;
  /** Closed segments, oldest first. */
  private readonly closedSegments: Segment[] = [];
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

  constructor(options: FileJournalOptions) {
    this.dir = options.dir;
    this.fsync = options.fsync ?? defaultJournalOptions.fsync;
    this.fsyncIntervalMs = options.fsyncIntervalMs ?? defaultJournalOptions.fsyncIntervalMs;
    this.segmentBytes = options.segmentBytes ?? defaultJournalOptions.segmentBytes;
    this.maxBufferBytes = options.maxBufferBytes ?? 1024 * 1024;
    this.reserveBytes = options.reserveBytes ?? 256 * 1024;
    this.retryMs = options.retryMs ?? 1000;
    this.logger = options.logger ?? silentLogger;
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
    const segments = readdirSync(this.dir)
      .map((name) => SEGMENT.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m): Segment => ({ index: Number(m[1]), format: m[2] === undefined ? 1 : 2, maxSeq: 0, bytes: 0 }))
      .sort((a, b) => a.index - b.index);
    const old = segments.filter((s) => s.format === 1).length;
    if (old > 0) {
      this.logger.info(
        { dir: this.dir, segments: old },
        `journal: reading ${old} segment${old === 1 ? '' : 's'} in the previous format (no checksums); new records are written with a CRC-32 each, and the old segments are deleted once every host has moved past them`,
      );
    }
    const recovery = readSegments({ dir: this.dir, segments, logger: this.logger });
    this.corruptRecords = recovery.corrupt.length;
    this.lastSeq = recovery.lastSeq;
    for (const [host, seq] of recovery.cursors) this.cursors.set(host, seq);
    for (const command of recovery.openCommands) this.openCommands.set(command.id, command);
    // Start a fresh segment: it carries everything older segments are still needed for,
    // except the events after the lowest cursor, which stay in their segments until acked.
    for (const segment of segments) this.closedSegments.push({ ...segment, maxSeq: this.lastSeq, bytes: statSync(this.segmentPath(segment.index, segment.format)).size });
    this.segmentIndex = (segments.at(-1)?.index ?? 0) + 1;
    this.openSegment(recovery.states);
    try {
      this.makeReserve();
    } catch (error) {
      // Too little room to promise exactly one reply to what it accepts: refuse commands from the start.
      this.degrade(error, 0);
    }
    if (this.fsync === 'interval') {
      this.fsyncTimer = setInterval(() => this.sync(), this.fsyncIntervalMs);
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
    this.write('e\t' + seq + '\t' + JSON.stringify(event), owed);
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
    this.write('t\t' + seq + '\t' + host + '\t' + JSON.stringify(event), owed);
  }

  command(command: CommandEvent, written?: (ok: boolean) => void): void {
    if (this.fd === undefined || this.degraded !== undefined) {
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
    if (this.fd === undefined) {
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
    const error = this.writeChunk(chunk);
    if (error === undefined) {
      this.settleWritten(true);
      // Only what was appended after the head counts: a head as large as a segment (many
      // retained channels, a small segmentBytes) would otherwise roll again at once, forever.
      if (this.degraded !== undefined) return;
      if (this.segmentSize - this.headBytes >= this.segmentBytes) this.roll();
      // Cursors moved (or a host was released): segments nobody needs any more can go.
      else if (this.closedSegments.length > 0) this.compact();
      return;
    }
    this.writeErrors++;
    // The batch did not fit. What accepted commands are owed (their replies) and the cursors
    // may still: give up the reserve for them. The rest was routed from memory all the same.
    let kept = 0;
    if (essentials.length > 0 && (this.freeReserve() || essentials.length < records)) {
      if (this.writeChunk(essentials.join('')) === undefined) kept = essentials.length;
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
    this.flush();
    if (this.fsyncTimer) clearInterval(this.fsyncTimer);
    if (this.retryTimer) clearInterval(this.retryTimer);
    this.fsyncTimer = undefined;
    this.retryTimer = undefined;
    if (this.fd !== undefined) {
      this.sync();
      closeSync(this.fd);
      this.fd = undefined;
    }
    this.releaseLock?.();
    this.releaseLock = undefined;
    this.closedSegments.length = 0;
    this.cursors.clear();
    this.openCommands.clear();
  }

  health(): JournalHealth {
    let bytes = this.fd === undefined ? 0 : this.segmentSize;
    for (const segment of this.closedSegments) bytes += segment.bytes;
    const health: JournalHealth = {
      status: this.degraded === undefined ? 'ok' : 'degraded',
      bytes,
      segments: this.closedSegments.length + (this.fd === undefined ? 0 : 1),
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
    return readdirSync(this.dir).filter((name) => SEGMENT.test(name));
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

  /** Writes `chunk` whole, or leaves the file as it was and returns why not. */
  private writeChunk(chunk: string): unknown {
    const fd = this.fd as number;
    try {
      const bytes = sealRecords(chunk);
      let offset = 0;
      while (offset < bytes.length) offset += writeSync(fd, bytes, offset);
      if (this.fsync === 'batch') fdatasyncSync(fd);
      this.segmentSize += bytes.length;
      return undefined;
    } catch (error) {
      // Part of it may have landed: cut it off, so that the next write starts a line of its own.
      try {
        ftruncateSync(fd, this.segmentSize);
      } catch {
        // The next segment starts clean anyway (see retry).
      }
      return error;
    }
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
    if (degraded === undefined || this.fd === undefined) return;
    const now = Date.now();
    this.compact();
    const index = this.segmentIndex + 1;
    const path = this.segmentPath(index);
    let fd: number | undefined;
    let size = 0;
    try {
      // The reserve first: resuming without it would leave the next full disk nothing for what is owed.
      this.makeReserve();
      fd = openSync(path, 'a', 0o600);
      const bytes = sealRecords(this.headLines(this.owner.states()).join(''));
      while (size < bytes.length) size += writeSync(fd, bytes, size);
      if (this.fsync !== 'never') fdatasyncSync(fd);
    } catch (error) {
      if (fd !== undefined) closeSync(fd);
      try {
        unlinkSync(path);
      } catch {
        // Never created.
      }
      degraded.reason = describeError(error);
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
    closeSync(this.fd);
    this.closedSegments.push({ index: this.segmentIndex, format: 2, maxSeq: this.lastSeq, bytes: this.segmentSize });
    this.segmentIndex = index;
    this.fd = fd;
    this.segmentSize = size;
    this.headBytes = size;
    this.dirtyCursors.clear();
    this.degraded = undefined;
    clearInterval(this.retryTimer);
    this.retryTimer = undefined;
    this.logger.info(
      { dir: this.dir, segment: index, notJournaled: this.notJournaled, degradedMs: now - degraded.since },
      `journal can write to ${this.dir} again after ${Math.round((now - degraded.since) / 1000)} s; resumed in segment ${index}; ${this.notJournaled} records had not been journaled, and what the hosts are still owed is journaled again`,
    );
    this.flush();
    const hosts = [...this.cursors.keys()];
    if (this.owner.heldBack !== undefined && hosts.length > 0) {
      setImmediate(() => {
        if (this.fd !== undefined) this.owner.heldBack?.(hosts);
      });
    }
  }

  private schedule(): void {
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private sync(): void {
    if (this.fd === undefined) return;
    const now = Date.now();
    if (now - this.lastFsync < this.fsyncIntervalMs / 2) return;
    this.lastFsync = now;
    try {
      fdatasyncSync(this.fd);
    } catch (error) {
      this.logger.warn({ err: error }, 'journal fsync failed');
    }
  }

  private segmentPath(index: number, format: SegmentFormat = 2): string {
    return join(this.dir, segmentName(index, format));
  }

  /** Space set aside for a full disk (see {@link FileJournalOptions.reserveBytes}); throws if there is no room for it. */
  private makeReserve(): void {
    if (this.reserveBytes <= 0) return;
    const path = join(this.dir, RESERVE);
    try {
      if (statSync(path).size === this.reserveBytes) return;
    } catch {
      // Not there yet.
    }
    let fd: number | undefined;
    try {
      fd = openSync(path, 'w', 0o600);
      const zeros = Buffer.alloc(this.reserveBytes);
      let offset = 0;
      while (offset < zeros.length) offset += writeSync(fd, zeros, offset);
    } catch (error) {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      this.freeReserve();
      throw error;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** True if there was a reserve to give up. */
  private freeReserve(): boolean {
    try {
      unlinkSync(join(this.dir, RESERVE));
      return true;
    } catch {
      return false;
    }
  }

  /** A new segment's first records: everything older segments would otherwise be kept for. */
  private headLines(states: Iterable<StateEvent>): string[] {
    const head: string[] = [encodeRecord('n\t' + this.lastSeq + '\t')];
    for (const state of states) head.push(encodeRecord('s\t0\t' + JSON.stringify(state)));
    for (const command of this.openCommands.values()) head.push(encodeRecord('k\t0\t' + JSON.stringify(command)));
    for (const [host, seq] of this.cursors) head.push(encodeRecord('c\t' + seq + '\t' + host));
    return head;
  }

  private openSegment(states: Iterable<StateEvent>, fd?: number): void {
    this.fd = fd ?? openSync(this.segmentPath(this.segmentIndex), 'a', 0o600);
    this.segmentSize = fstatSync(this.fd).size;
    const head = this.headLines(states);
    this.headBytes = this.segmentSize;
    for (const line of head) this.headBytes += Buffer.byteLength(line);
    this.buffer.unshift(...head);
    for (const host of this.cursors.keys()) this.dirtyCursors.delete(host);
  }

  private roll(): void {
    if (this.fd === undefined) return;
    // Open the next segment before letting go of this one: if that fails (disk full, no
    // descriptors), writing goes on in the current segment and the roll is tried again later.
    let next: number;
    try {
      next = openSync(this.segmentPath(this.segmentIndex + 1), 'a', 0o600);
    } catch (error) {
      if (!this.rollFailing) this.logger.error({ err: error, dir: this.dir }, `journal: cannot start a new segment (${describeError(error)}); appending to the current one meanwhile`);
      this.rollFailing = true;
      return;
    }
    this.rollFailing = false;
    closeSync(this.fd);
    this.closedSegments.push({ index: this.segmentIndex, format: 2, maxSeq: this.lastSeq, bytes: this.segmentSize });
    this.segmentIndex++;
    this.openSegment(this.owner.states(), next);
    this.flush();
    this.compact();
    this.noticeHeldBack();
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
    if (this.closedSegments.length < 2 || this.owner.heldBack === undefined || this.heldBackDue) return;
    const oldest = (this.closedSegments[0] as Segment).maxSeq;
    if (this.lastCopy >= (this.closedSegments[this.closedSegments.length - 2] as Segment).maxSeq) return;
    const hosts: string[] = [];
    for (const [host, seq] of this.cursors) {
      // Every event has a seq: the distance is how many events the host holds back.
      if (seq < oldest && 2 * (this.owner.waiting?.(host) ?? 0) <= this.lastSeq - seq) hosts.push(host);
    }
    if (hosts.length === 0) return;
    this.heldBackDue = true;
    setImmediate(() => {
      this.heldBackDue = false;
      if (this.fd !== undefined) this.owner.heldBack?.(hosts);
    });
  }

  /** Delete closed segments every host has moved past. */
  private compact(): void {
    let lowest = Infinity;
    for (const seq of this.cursors.values()) lowest = Math.min(lowest, seq);
    while (this.closedSegments.length > 0 && (this.closedSegments[0] as Segment).maxSeq <= lowest) {
      const { index, format } = this.closedSegments.shift() as Segment;
      try {
        unlinkSync(this.segmentPath(index, format));
      } catch (error) {
        this.logger.warn({ err: error }, `could not delete journal segment ${index}`);
      }
    }
  }
}
