import { ErrorCodes, PatchbayError } from '@patchbay/core';
import { Base64Pieces } from './base64Pieces.js';
import { LargeLineBuilder } from './largeLine.js';
import { serialize, unserialize, unserializeBytes, type PhpArray, type PhpBytesValue } from './phpSerialize.js';

/**
 * The comodojo socket framing (protocols/comodojo.md §1.3): one line per frame, holding the
 * base64 of a PHP-serialised associative array, ended by CR LF.
 */

/** The greeter frame, byte-exact (§1.5): `{status: "connected", version: "1.0"}`. */
export const GREETER = 'YToyOntzOjY6InN0YXR1cyI7czo5OiJjb25uZWN0ZWQiO3M6NzoidmVyc2lvbiI7czozOiIxLjAiO30=\r\n';

/** A decoded request frame (§1.6). Unknown keys are ignored, keys may come in any order. */
export interface RequestFrame {
  contentType: string | undefined;
  /** The payload's bytes, decoded by the protocol that reads them (JSON: strict UTF-8; XML: its declaration). */
  message: Buffer;
}

/** A response frame (§1.7): `status` then `message`, in that order. */
export interface ResponseFrame {
  status: boolean;
  message: string | null;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Encodes a response frame as a wire line (base64 + CR LF). */
export function encodeResponse(frame: ResponseFrame): string {
  return encodeFrame({ status: frame.status, message: frame.message });
}

/** A response message of this many characters or more is encoded by {@link encodeResponseSliced}. */
export const SLICED_ANSWER_CHARS = 256 * 1024;
/** Characters of a large message encoded per turn of the event loop (about 0.2 ms of work). */
const ANSWER_PIECE_CHARS = 256 * 1024;

/**
 * Issue 13.8: {@link encodeResponse} for a large message (a multi-MB answer), in pieces with a
 * turn of the event loop between them, so that serialising, UTF-8 encoding and base64 of 20 MB
 * (tens of ms in one go) do not hold every other client. Returns the line's text in pieces,
 * byte for byte the line encodeResponse gives, to be written in order.
 */
export async function encodeResponseSliced(frame: ResponseFrame): Promise<string[]> {
  const message = frame.message ?? '';
  const pieces: string[] = [];
  for (let at = 0; at < message.length; ) {
    let end = Math.min(at + ANSWER_PIECE_CHARS, message.length);
    // A surrogate pair stays in one piece, so each piece's UTF-8 is that part of the whole's.
    const last = message.charCodeAt(end - 1);
    if (end < message.length && last >= 0xd800 && last <= 0xdbff) end++;
    pieces.push(message.slice(at, end));
    at = end;
  }
  let bytes = 0;
  for (const piece of pieces) {
    bytes += Buffer.byteLength(piece, 'utf8');
    await new Promise((resolve) => setImmediate(resolve));
  }
  // The frame as serialize() writes it (§1.7): status, then message as s:<bytes>:"...";
  const empty = serialize({ status: frame.status, message: '' });
  const base64 = new Base64Pieces();
  base64.push(Buffer.from(`${empty.slice(0, -'s:0:"";}'.length)}s:${bytes}:"`, 'utf8'));
  for (const piece of pieces) {
    base64.push(Buffer.from(piece, 'utf8'));
    await new Promise((resolve) => setImmediate(resolve));
  }
  base64.push(Buffer.from('";}', 'latin1'));
  return [...base64.end(), '\r\n'];
}

/** Encodes any PHP array as a wire line (base64 + CR LF), e.g. a request on the client side. */
export function encodeFrame(value: PhpArray): string {
  return Buffer.from(serialize(value), 'utf8').toString('base64') + '\r\n';
}

/** Decodes one line's base64 text (already trimmed) into its PHP array. Throws COMMAND_INVALID. */
export function decodeFrame(line: string, limits: { maxDepth?: number } = {}): PhpArray {
  if (line.length % 4 !== 0 || !BASE64.test(line)) {
    throw new PatchbayError(ErrorCodes.COMMAND_INVALID, 'frame is not base64', { context: { length: line.length } });
  }
  const value = unserialize(Buffer.from(line, 'base64'), { maxDepth: limits.maxDepth ?? 2 });
  if (value === null || typeof value !== 'object') {
    throw new PatchbayError(ErrorCodes.COMMAND_INVALID, 'frame does not hold a PHP array');
  }
  return value;
}

/** Decodes a request line into content type and message. Throws COMMAND_INVALID. */
export function decodeRequest(line: string): RequestFrame {
  if (line.length % 4 !== 0 || !BASE64.test(line)) {
    throw new PatchbayError(ErrorCodes.COMMAND_INVALID, 'frame is not base64', { context: { length: line.length } });
  }
  return requestOf(Buffer.from(line, 'base64'));
}

/** Base64 text decoded per piece of this size (a multiple of 4), with a turn of the event loop between. */
const BASE64_PIECE = 1024 * 1024;

/** {@link decodeRequestSliced} without a promise for a line short enough to decode in one go (every line below OFFLOAD_BYTES). */
export function decodeRequestNow(line: string): RequestFrame | Promise<RequestFrame> {
  return line.length <= BASE64_PIECE ? decodeRequest(line) : decodeRequestSliced(line);
}

/**
 * {@link decodeRequest} for large lines: the base64 is checked and decoded in pieces, giving
 * the event loop back between them, so a 16 MiB frame does not hold every other client.
 */
export async function decodeRequestSliced(line: string): Promise<RequestFrame> {
  if (line.length <= BASE64_PIECE) return decodeRequest(line);
  if (line.length % 4 !== 0) throw new PatchbayError(ErrorCodes.COMMAND_INVALID, 'frame is not base64', { context: { length: line.length } });
  const bytes = Buffer.allocUnsafe((line.length / 4) * 3);
  let size = 0;
  for (let at = 0; at < line.length; at += BASE64_PIECE) {
    const piece = line.slice(at, at + BASE64_PIECE);
    // Padding is only allowed in the last piece.
    if (!BASE64.test(piece) || (at + BASE64_PIECE < line.length && piece.endsWith('='))) {
      throw new PatchbayError(ErrorCodes.COMMAND_INVALID, 'frame is not base64', { context: { length: line.length } });
    }
    size += bytes.write(piece, size, 'base64');
    await new Promise((resolve) => setImmediate(resolve));
  }
  return requestOf(bytes.subarray(0, size));
}

function requestOf(bytes: Buffer): RequestFrame {
  const value = unserializeBytes(bytes, { maxDepth: 2 });
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) {
    throw new PatchbayError(ErrorCodes.COMMAND_INVALID, 'frame does not hold a PHP array');
  }
  const frame = value as Record<string, PhpBytesValue>;
  const contentType = frame['content_type'];
  const message = frame['message'];
  if (contentType !== undefined && contentType !== null && !Buffer.isBuffer(contentType)) {
    throw new PatchbayError(ErrorCodes.COMMAND_INVALID, 'content_type is not a string');
  }
  if (!Buffer.isBuffer(message)) {
    throw new PatchbayError(ErrorCodes.COMMAND_INVALID, message === undefined ? 'request has no message' : 'message is not a string');
  }
  return { contentType: contentType === undefined || contentType === null ? undefined : contentType.toString('utf8'), message };
}

/** Decodes a response line (client side, tests and benchmarks). */
export function decodeResponse(line: string): ResponseFrame {
  const value = decodeFrame(line);
  const message = value['message'];
  return { status: value['status'] === true, message: typeof message === 'string' ? message : null };
}

/** A line of `largeAt` bytes or more: its raw bytes in pieces whose buffers hold nothing else still needed (transferable), `length` in all. */
export interface LargeLine {
  blocks: Buffer[];
  length: number;
}

/** Bytes JS's `trim()` removes from a latin1 line (the ASCII whitespace and NBSP). */
function isTrimmed(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d) || byte === 0xa0;
}

/**
 * Splits a byte stream into lines on LF (§1.3), across reads and several per read, with a
 * bound on unterminated input. Lines come out trimmed of surrounding whitespace (so CR LF
 * and LF alone both work); an empty string is a blank line.
 *
 * A line of `largeAt` bytes or more comes out as a {@link LargeLine} (untrimmed, CR and all),
 * for the decode worker to take over: its reads are kept as they arrive (largeLine.ts), so its
 * end costs this thread no 16 MiB string and no copy larger than one read. The splitter takes
 * over the chunks it is given: a large line's may be transferred to the worker, and detached.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The line under way once it reached `largeAt`, filled as it comes. */
  private large: LargeLineBuilder | undefined;

  constructor(
    private readonly maxLineBytes: number,
    private readonly largeAt = Number.POSITIVE_INFINITY,
  ) {}

  /** Bytes received that are not yet a whole line. */
  get buffered(): number {
    return this.pendingBytes;
  }

  /**
   * Feeds one chunk; returns the complete lines in it. Throws COMMAND_INVALID when the
   * unterminated input passes the limit (the caller closes the connection).
   */
  push(chunk: Buffer): (string | LargeLine)[] {
    const lines: (string | LargeLine)[] = [];
    // A read of its own (as a socket's are): a large line may keep its bytes and move its memory.
    const owned = chunk.byteOffset === 0 && chunk.buffer.byteLength === chunk.length;
    let start = 0;
    let lf = chunk.indexOf(0x0a, start);
    while (lf >= 0) {
      const length = this.pendingBytes + lf - start;
      if (length > this.maxLineBytes) this.tooLong(length);
      if (length >= this.largeAt) {
        // The read's memory may move with the line only if nothing after the LF is in it.
        this.append(chunk.subarray(start, lf), owned && lf + 1 === chunk.length);
        const blocks = (this.large as LargeLineBuilder).finish();
        this.large = undefined;
        lines.push(blocks.some((block) => block.some((byte) => !isTrimmed(byte))) ? { blocks, length } : '');
      } else if (this.pendingBytes > 0) {
        this.pending.push(chunk.subarray(start, lf));
        lines.push(Buffer.concat(this.pending).toString('latin1').trim());
      } else {
        lines.push(chunk.toString('latin1', start, lf).trim());
      }
      this.pending = [];
      this.pendingBytes = 0;
      start = lf + 1;
      lf = chunk.indexOf(0x0a, start);
    }
    if (start < chunk.length) {
      const length = this.pendingBytes + chunk.length - start;
      if (length > this.maxLineBytes) this.tooLong(length);
      if (length >= this.largeAt) this.append(chunk.subarray(start), owned);
      else this.pending.push(chunk.subarray(start));
      this.pendingBytes = length;
    }
    return lines;
  }

  /** Adds `piece` to the large line under way, starting it with what is pending (copied: less than `largeAt`). `movable`: as for {@link LargeLineBuilder.add}. */
  private append(piece: Buffer, movable: boolean): void {
    if (!this.large) {
      this.large = new LargeLineBuilder();
      for (const pending of this.pending) this.large.add(pending, false);
      this.pending = [];
    }
    this.large.add(piece, movable);
  }

  private tooLong(bytes: number): never {
    this.pending = [];
    this.pendingBytes = 0;
    this.large = undefined;
    throw new PatchbayError(ErrorCodes.COMMAND_INVALID, `frame longer than ${this.maxLineBytes} bytes`, { context: { bytes, limit: this.maxLineBytes } });
  }
}
