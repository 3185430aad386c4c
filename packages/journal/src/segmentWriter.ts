import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, type Logger } from '@patchbay/core';
import type { FsyncPolicy } from './options.js';
import { sealRecords, segmentName, type SegmentFormat } from './records.js';

const RESERVE = 'reserve';

/** A segment file on disk. */
export interface Segment {
  index: number;
  format: SegmentFormat;
  /** Highest seq it may hold, for deletion. */
  maxSeq: number;
  bytes: number;
}

/**
 * The journal's files: the segment being appended to, the closed ones still needed, and the
 * reserve. It writes what it is given and knows nothing of what the records mean, so the
 * journal keeps everything a record needs (the per-append path never comes here) and calls in
 * once per batch, roll or retry.
 */
export class SegmentWriter {
  private readonly dir: string;
  private readonly fsync: FsyncPolicy;
  private readonly fsyncIntervalMs: number;
  private readonly segmentBytes: number;
  private readonly reserveBytes: number;
  private readonly logger: Logger;
  private fd: number | undefined;
  private index = 0;
  private size = 0;
  /** Bytes of the current segment's head (state, open commands, cursors): not counted towards a roll. */
  private headBytes = 0;
  /** The last roll could not open a new segment (logged once until one opens). */
  private rollFailing = false;
  private lastFsync = 0;
  /** Closed segments, oldest first. */
  private readonly closedSegments: Segment[] = [];

  constructor(options: { dir: string; fsync: FsyncPolicy; fsyncIntervalMs: number; segmentBytes: number; reserveBytes: number; logger: Logger }) {
    this.dir = options.dir;
    this.fsync = options.fsync;
    this.fsyncIntervalMs = options.fsyncIntervalMs;
    this.segmentBytes = options.segmentBytes;
    this.reserveBytes = options.reserveBytes;
    this.logger = options.logger;
  }

  get closed(): readonly Segment[] {
    return this.closedSegments;
  }

  /** Past `segmentBytes` since the head: time to roll. */
  get full(): boolean {
    // Only what was appended after the head counts: a head as large as a segment (many
    // retained channels, a small segmentBytes) would otherwise roll again at once, forever.
    return this.size - this.headBytes >= this.segmentBytes;
  }

  /** Bytes on disk, the current segment included. */
  get bytes(): number {
    let bytes = this.fd === undefined ? 0 : this.size;
    for (const segment of this.closedSegments) bytes += segment.bytes;
    return bytes;
  }

  get count(): number {
    return this.closedSegments.length + (this.fd === undefined ? 0 : 1);
  }

  /**
   * Takes the segments recovery read as closed, each possibly holding seqs up to `lastSeq`, and
   * opens a fresh one after them: it carries everything they are still needed for, except the
   * events after the lowest cursor, which stay in their segments until acked.
   */
  openAfter(segments: readonly { index: number; format: SegmentFormat }[], lastSeq: number): void {
    for (const segment of segments) this.closedSegments.push({ ...segment, maxSeq: lastSeq, bytes: statSync(this.segmentPath(segment.index, segment.format)).size });
    this.index = (segments.at(-1)?.index ?? 0) + 1;
    this.begin(openSync(this.segmentPath(this.index), 'a', 0o600));
  }

  /** Counts the current segment's head, written by the next batch, as not towards a roll. */
  countHead(lines: readonly string[]): void {
    for (const line of lines) this.headBytes += Buffer.byteLength(line);
  }

  /** Writes `chunk` (lines from `encodeRecord`) whole, or leaves the file as it was and returns why not. */
  write(chunk: string): unknown {
    const fd = this.fd as number;
    try {
      const bytes = sealRecords(chunk);
      let offset = 0;
      while (offset < bytes.length) offset += writeSync(fd, bytes, offset);
      if (this.fsync === 'batch') fdatasyncSync(fd);
      this.size += bytes.length;
      return undefined;
    } catch (error) {
      // Part of it may have landed: cut it off, so that the next write starts a line of its own.
      try {
        ftruncateSync(fd, this.size);
      } catch {
        // The next segment starts clean anyway (see resume).
      }
      return error;
    }
  }

  /**
   * Closes the current segment, as holding seqs up to `lastSeq`, for a new one, whose head the
   * caller then writes. False if there is none.
   */
  roll(lastSeq: number): boolean {
    if (this.fd === undefined) return false;
    // Open the next segment before letting go of this one: if that fails (disk full, no
    // descriptors), writing goes on in the current segment and the roll is tried again later.
    let next: number;
    try {
      next = openSync(this.segmentPath(this.index + 1), 'a', 0o600);
    } catch (error) {
      if (!this.rollFailing) this.logger.error({ err: error, dir: this.dir }, `journal: cannot start a new segment (${describeError(error)}); appending to the current one meanwhile`);
      this.rollFailing = true;
      return false;
    }
    this.rollFailing = false;
    this.closeCurrent(lastSeq);
    this.index++;
    this.begin(next);
    return true;
  }

  /**
   * After failed writes: starts a new segment with `head()` written and synced in it, or
   * leaves everything as it was and returns why not. `head` is only asked for once there is
   * room for the reserve and the file is open.
   */
  resume({ lastSeq, head }: { lastSeq: number; head: () => string }): { error: unknown } | { index: number } {
    const index = this.index + 1;
    const path = this.segmentPath(index);
    let fd: number | undefined;
    let size = 0;
    try {
      // The reserve first: resuming without it would leave the next full disk nothing for what is owed.
      this.makeReserve();
      fd = openSync(path, 'a', 0o600);
      const bytes = sealRecords(head());
      while (size < bytes.length) size += writeSync(fd, bytes, size);
      if (this.fsync !== 'never') fdatasyncSync(fd);
    } catch (error) {
      if (fd !== undefined) closeSync(fd);
      try {
        unlinkSync(path);
      } catch {
        // Never created.
      }
      return { error };
    }
    this.closeCurrent(lastSeq);
    this.index = index;
    this.fd = fd;
    this.size = size;
    this.headBytes = size;
    return { index };
  }

  /** Deletes the closed segments whose every seq is at most `lowest`, oldest first, keeping at least the newest `keep`. */
  compact(lowest: number, keep = 0): void {
    while (this.closedSegments.length > keep && (this.closedSegments[0] as Segment).maxSeq <= lowest) {
      const { index, format } = this.closedSegments.shift() as Segment;
      try {
        unlinkSync(this.segmentPath(index, format));
      } catch (error) {
        this.logger.warn({ err: error }, `could not delete journal segment ${index}`);
      }
    }
  }

  /** For the `interval` policy: an fdatasync, unless one was done less than half an interval ago. */
  sync(): void {
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

  close(): void {
    if (this.fd !== undefined) {
      this.sync();
      closeSync(this.fd);
      this.fd = undefined;
    }
    this.closedSegments.length = 0;
  }

  /** Space set aside for a full disk (see the `reserveBytes` option); throws if there is no room for it. */
  makeReserve(): void {
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
  freeReserve(): boolean {
    try {
      unlinkSync(join(this.dir, RESERVE));
      return true;
    } catch {
      return false;
    }
  }

  private begin(fd: number): void {
    this.fd = fd;
    this.size = fstatSync(fd).size;
    this.headBytes = this.size;
  }

  private closeCurrent(lastSeq: number): void {
    closeSync(this.fd as number);
    this.closedSegments.push({ index: this.index, format: 2, maxSeq: lastSeq, bytes: this.size });
  }

  private segmentPath(index: number, format: SegmentFormat = 2): string {
    return join(this.dir, segmentName(index, format));
  }
}
