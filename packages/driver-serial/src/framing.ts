import { ErrorCodes, PatchbayError } from '@patchbay/core';
import type { FramingConfig } from './config.js';

/** Why a frame was not used. Each kind has its own counter and log line. */
export type BadFrameKind = 'garbage' | 'oversize' | 'invalid' | 'unmatched' | 'partial';

/** Where a framer hands what it cuts out of the byte stream. */
export interface FrameSink {
  /** One complete frame's payload. Only valid during the call: copy it to keep it. */
  frame(payload: Buffer): void;
  /** Something that is not a usable frame, with what was wrong. */
  bad(kind: BadFrameKind, detail: string): void;
}

/** Cuts a byte stream into frames and wraps payloads for the line. One per connection. */
export interface Framer {
  /** Feed bytes as they arrive; complete frames go to the sink at once. */
  push(chunk: Buffer): void;
  /** The connection ended: report and drop an incomplete frame, ready for a new stream. */
  end(): void;
  /** Wrap one payload for the line. Throws COMMAND_INVALID when it cannot be framed. */
  encode(payload: Buffer): Buffer;
}

/** Makes the framer a config asks for. */
export function createFramer(config: FramingConfig, options: { maxFrameBytes: number; sink: FrameSink }): Framer {
  return config.type === 'delimiter'
    ? new DelimiterFramer(Buffer.from(config.delimiter, 'utf8'), options.maxFrameBytes, options.sink)
    : new LengthPrefixFramer({ headerBytes: config.lengthBytes, endian: config.endian, maxFrameBytes: options.maxFrameBytes, sink: options.sink });
}

/**
 * Frames ended by a delimiter. Empty frames (blank lines, a CR LF device talking to a LF
 * framing) are skipped silently: many devices send them as keep-alives. A frame longer than
 * the maximum is dropped whole, reported once when its delimiter arrives, and reading resumes
 * after it, so one runaway line never desynchronises the stream.
 */
class DelimiterFramer implements Framer {
  /** Bytes of the frame in progress (or, while discarding, the last few bytes in case a delimiter straddles chunks). */
  private pending: Buffer | undefined;
  /** Bytes of an oversize frame dropped so far; 0 when not discarding. */
  private discarded = 0;

  constructor(
    private readonly delimiter: Buffer,
    private readonly max: number,
    private readonly sink: FrameSink,
  ) {}

  push(chunk: Buffer): void {
    const delimiter = this.delimiter;
    const dlen = delimiter.length;
    let data = chunk;
    let searchFrom = 0;
    if (this.pending !== undefined) {
      // A delimiter may straddle the old and new bytes: search from just before the seam.
      searchFrom = Math.max(0, this.pending.length - (dlen - 1));
      data = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let start = 0;
    for (;;) {
      const at = dlen === 1 ? data.indexOf(delimiter[0] as number, searchFrom) : data.indexOf(delimiter, searchFrom);
      if (at < 0) break;
      const size = at - start;
      if (this.discarded > 0) {
        this.oversize(this.discarded + size);
        this.discarded = 0;
      } else if (size > this.max) {
        this.oversize(size);
      } else if (size > 0) {
        this.sink.frame(data.subarray(start, at));
      }
      start = at + dlen;
      searchFrom = start;
    }
    const rest = data.length - start;
    if (rest === 0) return;
    if (this.discarded > 0 || rest > this.max) {
      // Keep only what could begin a delimiter; count the rest as dropped.
      const keep = Math.min(rest, dlen - 1);
      this.discarded += rest - keep;
      this.pending = keep > 0 ? Buffer.from(data.subarray(data.length - keep)) : undefined;
      return;
    }
    // Copy: `data` may be a large chunk whose other frames are done with.
    this.pending = Buffer.from(data.subarray(start));
  }

  end(): void {
    const pending = this.pending?.length ?? 0;
    if (this.discarded > 0) this.oversize(this.discarded + pending);
    else if (pending > 0) this.sink.bad('partial', `connection ended inside a frame: ${pending} bytes without the delimiter dropped (${preview(this.pending as Buffer)})`);
    this.pending = undefined;
    this.discarded = 0;
  }

  encode(payload: Buffer): Buffer {
    if (payload.includes(this.delimiter)) {
      throw new PatchbayError(ErrorCodes.COMMAND_INVALID, `the command's frame contains the delimiter ${JSON.stringify(this.delimiter.toString('utf8'))}`, {
        context: { frame: preview(payload) },
      });
    }
    if (payload.length > this.max) throw frameTooLong(payload.length, this.max);
    return Buffer.concat([payload, this.delimiter]);
  }

  private oversize(size: number): void {
    this.sink.bad('oversize', `frame of ${size} bytes exceeds maxFrameBytes ${this.max}; dropped`);
  }
}

/**
 * Frames that start with an unsigned length header. There is no way to resynchronise a
 * corrupted length-prefixed stream from inside it, so an oversize length is skipped by
 * its announced size; garbage then shows up as further bad frames until the next reconnect.
 */
class LengthPrefixFramer implements Framer {
  private pending: Buffer | undefined;
  /** Payload bytes of an oversize frame still to skip. */
  private skip = 0;
  private readonly headerBytes: 1 | 2 | 4;
  private readonly little: boolean;
  private readonly max: number;
  private readonly sink: FrameSink;

  constructor(options: { headerBytes: 1 | 2 | 4; endian: 'big' | 'little'; maxFrameBytes: number; sink: FrameSink }) {
    this.headerBytes = options.headerBytes;
    this.little = options.endian === 'little';
    this.sink = options.sink;
    // A header can announce at most 2^(8n) - 1 bytes.
    this.max = Math.min(options.maxFrameBytes, 2 ** (8 * options.headerBytes) - 1);
  }

  push(chunk: Buffer): void {
    let data = chunk;
    if (this.pending !== undefined) {
      data = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    const hlen = this.headerBytes;
    let offset = 0;
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length - offset);
        this.skip -= n;
        offset += n;
        if (this.skip > 0) return;
      }
      if (data.length - offset < hlen) break;
      const length = this.readLength(data, offset);
      if (length > this.max) {
        this.sink.bad('oversize', `length header announces ${length} bytes, over maxFrameBytes ${this.max}; skipped`);
        offset += hlen;
        this.skip = length;
        continue;
      }
      if (data.length - offset - hlen < length) break;
      if (length > 0) this.sink.frame(data.subarray(offset + hlen, offset + hlen + length));
      offset += hlen + length;
    }
    if (offset < data.length) this.pending = Buffer.from(data.subarray(offset));
  }

  end(): void {
    const pending = this.pending;
    if (pending !== undefined && pending.length > 0) {
      const announced = pending.length >= this.headerBytes ? `${this.readLength(pending, 0)} announced, ` : '';
      this.sink.bad('partial', `connection ended inside a frame: ${announced}${pending.length} bytes received and dropped`);
    }
    this.pending = undefined;
    this.skip = 0;
  }

  encode(payload: Buffer): Buffer {
    if (payload.length > this.max) throw frameTooLong(payload.length, this.max);
    const header = Buffer.allocUnsafe(this.headerBytes);
    if (this.little) header.writeUIntLE(payload.length, 0, this.headerBytes);
    else header.writeUIntBE(payload.length, 0, this.headerBytes);
    return Buffer.concat([header, payload]);
  }

  private readLength(data: Buffer, offset: number): number {
    return this.little ? data.readUIntLE(offset, this.headerBytes) : data.readUIntBE(offset, this.headerBytes);
  }
}

function frameTooLong(size: number, max: number): PatchbayError {
  return new PatchbayError(ErrorCodes.COMMAND_INVALID, `the command's frame is ${size} bytes, over maxFrameBytes ${max}`, { context: { size, max } });
}

/** A short printable excerpt of raw bytes for log lines. */
export function preview(bytes: Buffer, max = 48): string {
  const text = JSON.stringify(bytes.subarray(0, max).toString('latin1'));
  return bytes.length > max ? `${text}…` : text;
}
