import { closeSync, fdatasyncSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, PatchbayError, type CommandEvent, type Journal, type JournalOwner, type JournalRecovery, type Logger, type OutboundEvent, type StateEvent } from '@patchbay/core';
import { silentLogger } from '@patchbay/core';

/** When the journal forces its writes to disk. A `kill -9` loses nothing in any mode (the page cache survives the process); these are about power loss. */
export type FsyncPolicy = 'never' | 'interval' | 'batch';

/** Settings of the file journal. */
/** The journal's defaults; the app's config imports them rather than repeating them. */
export const defaultJournalOptions = { fsync: 'interval', fsyncIntervalMs: 1000, segmentBytes: 8 * 1024 * 1024 } as const satisfies Required<Pick<FileJournalOptions, 'fsync' | 'fsyncIntervalMs' | 'segmentBytes'>>;

export interface FileJournalOptions {
  /** Directory of the segment files (created 0700 if missing). */
  dir: string;
  /** `batch`: fdatasync after every batch; `interval`: at most every `fsyncIntervalMs`; `never`: leave it to the OS. */
  fsync?: FsyncPolicy;
  fsyncIntervalMs?: number;
  /** Roll to a new segment past this size. */
  segmentBytes?: number;
  /** Write the buffer once it holds this many bytes, without waiting for the end of the tick. */
  maxBufferBytes?: number;
  logger?: Logger;
}

// One record a line, tab-separated so recovery can skip what it does not need without
// parsing JSON: `e<TAB>seq<TAB>event` an accepted event, `k<TAB>0<TAB>command` a command
// whose reply a host is owed, `c<TAB>seq<TAB>host` a host's delivered-up-to cursor,
// `s<TAB>0<TAB>state` a retained state value (segment head), `n<TAB>seq` the last seq so far,
// `r<TAB>0<TAB>host` a host released (its cursor dropped), `t<TAB>seq<TAB>host<TAB>event` an
// event written again for one host only (host ids have no tabs; JSON strings escape theirs).
const SEGMENT = /^segment-(\d{8})\.log$/;

/**
 * The outbox journal: one append-only log of accepted events, written in batches, with a
 * delivered-up-to cursor per host (a log with consumer offsets). Segments roll at
 * `segmentBytes`; each new segment starts with the retained state, the open commands and the
 * cursors, so a segment is deleted once every host's cursor has passed its last event.
 */
export class FileJournal implements Journal {
  private readonly dir: string;
  private readonly fsync: FsyncPolicy;
  private readonly fsyncIntervalMs: number;
  private readonly segmentBytes: number;
  private readonly maxBufferBytes: number;
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
  private flushScheduled = false;
  private lastFsync = 0;
  private lastSeq = 0;
  /** Latest cursor per host, and which ones changed since the last flush. */
  private readonly cursors = new Map<string, number>();
  private readonly dirtyCursors = new Set<string>();
  private readonly openCommands = new Map<string, CommandEvent>();
  /** Highest seq held by each closed segment, for deletion. */
  private readonly closedSegments: { index: number; maxSeq: number }[] = [];
  private owner: JournalOwner = { states: () => [] };
  /** A {@link JournalOwner.heldBack} call is due on the next turn. */
  private heldBackDue = false;
  private fsyncTimer: NodeJS.Timeout | undefined;

  constructor(options: FileJournalOptions) {
    this.dir = options.dir;
    this.fsync = options.fsync ?? defaultJournalOptions.fsync;
    this.fsyncIntervalMs = options.fsyncIntervalMs ?? defaultJournalOptions.fsyncIntervalMs;
    this.segmentBytes = options.segmentBytes ?? defaultJournalOptions.segmentBytes;
    this.maxBufferBytes = options.maxBufferBytes ?? 1024 * 1024;
    this.logger = options.logger ?? silentLogger;
  }

  async open(owner: JournalOwner): Promise<JournalRecovery> {
    this.owner = owner;
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new PatchbayError(ErrorCodes.JOURNAL_IO, `cannot create the journal directory ${this.dir}`, { cause: error, context: { dir: this.dir } });
    }
    const segments = readdirSync(this.dir)
      .map((name) => SEGMENT.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const recovery = this.read(segments);
    this.lastSeq = recovery.lastSeq;
    for (const [host, seq] of recovery.cursors) this.cursors.set(host, seq);
    for (const command of recovery.openCommands) this.openCommands.set(command.id, command);
    // Start a fresh segment: it carries everything older segments are still needed for,
    // except the events after the lowest cursor, which stay in their segments until acked.
    for (const index of segments) this.closedSegments.push({ index, maxSeq: this.lastSeq });
    this.segmentIndex = (segments.at(-1) ?? 0) + 1;
    this.openSegment(recovery.states);
    if (this.fsync === 'interval') {
      this.fsyncTimer = setInterval(() => this.sync(), this.fsyncIntervalMs);
      this.fsyncTimer.unref();
    }
    return recovery;
  }

  append(seq: number, event: OutboundEvent): void {
    this.lastSeq = seq;
    if (event.kind === 'reply') this.openCommands.delete(event.commandId);
    this.write('e\t' + seq + '\t' + JSON.stringify(event) + '\n');
  }

  appendFor(host: string, seq: number, event: OutboundEvent): void {
    this.lastSeq = seq;
    this.write('t\t' + seq + '\t' + host + '\t' + JSON.stringify(event) + '\n');
  }

  command(command: CommandEvent): void {
    this.openCommands.set(command.id, command);
    this.write('k\t0\t' + JSON.stringify(command) + '\n');
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
    this.write('r\t0\t' + host + '\n');
    // Segments only the released host held back can go now, not at the next roll.
    this.compact();
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.fd === undefined) return;
    for (const host of this.dirtyCursors) this.buffer.push('c\t' + this.cursors.get(host) + '\t' + host + '\n');
    this.dirtyCursors.clear();
    if (this.buffer.length === 0) return;
    const chunk = this.buffer.join('');
    this.buffer = [];
    this.bufferBytes = 0;
    try {
      const bytes = Buffer.from(chunk, 'utf8');
      let offset = 0;
      while (offset < bytes.length) offset += writeSync(this.fd, bytes, offset);
      this.segmentSize += bytes.length;
      if (this.fsync === 'batch') fdatasyncSync(this.fd);
    } catch (error) {
      // The events are still routed in memory; only durability across a restart is at risk.
      this.logger.error({ err: error, dir: this.dir }, `journal write failed: ${(error as Error).message}; accepted events may not survive a restart`);
      return;
    }
    // Only what was appended after the head counts: a head as large as a segment (many
    // retained channels, a small segmentBytes) would otherwise roll again at once, forever.
    if (this.segmentSize - this.headBytes >= this.segmentBytes) this.roll();
    // Cursors moved (or a host was released): segments nobody needs any more can go.
    else if (this.closedSegments.length > 0) this.compact();
  }

  async close(): Promise<void> {
    this.flush();
    if (this.fsyncTimer) clearInterval(this.fsyncTimer);
    this.fsyncTimer = undefined;
    if (this.fd !== undefined) {
      this.sync();
      closeSync(this.fd);
      this.fd = undefined;
    }
    this.closedSegments.length = 0;
    this.cursors.clear();
    this.openCommands.clear();
  }

  /** Current segment files, for tests and diagnostics. */
  segments(): string[] {
    return readdirSync(this.dir).filter((name) => SEGMENT.test(name));
  }

  private write(line: string): void {
    this.buffer.push(line);
    this.bufferBytes += line.length;
    if (this.bufferBytes >= this.maxBufferBytes) this.flush();
    else this.schedule();
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

  private segmentPath(index: number): string {
    return join(this.dir, `segment-${String(index).padStart(8, '0')}.log`);
  }

  private openSegment(states: Iterable<StateEvent>, fd?: number): void {
    this.fd = fd ?? openSync(this.segmentPath(this.segmentIndex), 'a', 0o600);
    this.segmentSize = fstatSync(this.fd).size;
    const head: string[] = ['n\t' + this.lastSeq + '\n'];
    for (const state of states) head.push('s\t0\t' + JSON.stringify(state) + '\n');
    for (const command of this.openCommands.values()) head.push('k\t0\t' + JSON.stringify(command) + '\n');
    for (const [host, seq] of this.cursors) head.push('c\t' + seq + '\t' + host + '\n');
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
      if (!this.rollFailing) this.logger.error({ err: error, dir: this.dir }, `journal: cannot start a new segment (${(error as Error).message}); appending to the current one meanwhile`);
      this.rollFailing = true;
      return;
    }
    this.rollFailing = false;
    closeSync(this.fd);
    this.closedSegments.push({ index: this.segmentIndex, maxSeq: this.lastSeq });
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
   * which bounds the files to a few segments however long a host stays down. On its own turn:
   * the owner appends, and a roll is not the place to take writes.
   */
  private noticeHeldBack(): void {
    if (this.closedSegments.length < 2 || this.owner.heldBack === undefined || this.heldBackDue) return;
    const oldest = (this.closedSegments[0] as { maxSeq: number }).maxSeq;
    const hosts: string[] = [];
    for (const [host, seq] of this.cursors) if (seq < oldest) hosts.push(host);
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
    while (this.closedSegments.length > 0 && (this.closedSegments[0] as { maxSeq: number }).maxSeq <= lowest) {
      const { index } = this.closedSegments.shift() as { index: number };
      try {
        unlinkSync(this.segmentPath(index));
      } catch (error) {
        this.logger.warn({ err: error }, `could not delete journal segment ${index}`);
      }
    }
  }

  private read(segments: readonly number[]): JournalRecovery {
    const texts = segments.map((index) => ({ index, text: readFileSync(this.segmentPath(index), 'utf8') }));
    let lastSeq = 0;
    const cursors = new Map<string, number>();
    const states = new Map<string, StateEvent>();
    const openCommands = new Map<string, CommandEvent>();
    let corrupt = 0;
    // First pass: everything but the events themselves, so replay can skip what every host has.
    const eventLines: { seq: number; json: string; host: string | undefined }[] = [];
    for (const { index, text } of texts) {
      const lines = text.split('\n');
      lines.forEach((line, n) => {
        if (line.length === 0) return;
        const tab1 = line.indexOf('\t');
        const tab2 = line.indexOf('\t', tab1 + 1);
        const type = line.slice(0, tab1);
        const seq = Number(tab2 === -1 ? line.slice(tab1 + 1) : line.slice(tab1 + 1, tab2));
        const body = tab2 === -1 ? '' : line.slice(tab2 + 1);
        try {
          switch (type) {
            case 'n':
              lastSeq = Math.max(lastSeq, seq);
              break;
            case 'c':
              cursors.set(body, seq);
              break;
            case 'r':
              cursors.delete(body);
              for (const [id, command] of openCommands) if (command.origin === body) openCommands.delete(id);
              break;
            case 'e': {
              lastSeq = Math.max(lastSeq, seq);
              const event = JSON.parse(body) as OutboundEvent;
              if (event.kind === 'state') states.set(event.device + '\u0000' + event.channel, event);
              else if (event.kind === 'reply') openCommands.delete(event.commandId);
              eventLines.push({ seq, json: body, host: undefined });
              break;
            }
            case 't': {
              // Not applied to the retained states: a host's copy may be older than the store's value.
              lastSeq = Math.max(lastSeq, seq);
              const tab = body.indexOf('\t');
              if (tab === -1) throw new Error('event for one host without its host');
              const json = body.slice(tab + 1);
              const event = JSON.parse(json) as OutboundEvent;
              if (event.kind === 'reply') openCommands.delete(event.commandId);
              eventLines.push({ seq, json, host: body.slice(0, tab) });
              break;
            }
            case 's': {
              const state = JSON.parse(body) as StateEvent;
              states.set(state.device + '\u0000' + state.channel, state);
              break;
            }
            case 'k': {
              const command = JSON.parse(body) as CommandEvent;
              openCommands.set(command.id, command);
              break;
            }
            default:
              throw new Error(`unknown record type "${type}"`);
          }
        } catch (error) {
          // A torn last line is what a crash mid-write leaves; anything else is worth a warning too.
          corrupt++;
          const last = index === segments.at(-1) && n >= lines.length - 2;
          this.logger.warn({ segment: index, line: n + 1, err: error }, `journal: ${last ? 'torn last record' : 'unreadable record'} skipped in segment ${index} line ${n + 1}`);
        }
      });
    }
    let lowest = Infinity;
    for (const seq of cursors.values()) lowest = Math.min(lowest, seq);
    return {
      lastSeq,
      cursors,
      states: [...states.values()],
      openCommands: [...openCommands.values()],
      replay: (visit) => {
        for (const { seq, json, host } of eventLines) if (seq > lowest) visit(seq, JSON.parse(json) as OutboundEvent, host);
      },
      ...(corrupt > 0 ? { corrupt } : {}),
    };
  }
}
