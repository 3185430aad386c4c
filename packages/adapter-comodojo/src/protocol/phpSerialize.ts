import { ErrorCodes, PatchbayError } from '@patchbay/core';

/**
 * The subset of PHP `serialize()` the comodojo socket envelope uses (protocols/comodojo.md §1.4):
 * associative arrays of strings, booleans, null, integers and doubles. Strings are measured in
 * bytes, so the parser works on a Buffer and uses BYTELEN to find a string's end, never `";`.
 */

/** A PHP value of the supported subset. Arrays become null-prototype records (no `__proto__` games). */
export type PhpValue = string | number | boolean | null | PhpArray;
/** A PHP array: keys are strings (integer keys are kept as their decimal text). */
export interface PhpArray {
  [key: string]: PhpValue;
}

/** Limits that bound the work one untrusted input can cause. */
export interface UnserializeLimits {
  /** Deepest array nesting accepted (the envelope needs 1). Default 8. */
  maxDepth?: number;
  /** Most entries accepted across all arrays of one input. Default 10,000. */
  maxEntries?: number;
}

/** A value read by {@link unserializeBytes}: strings stay bytes (a view into the input, no copy). */
export type PhpBytesValue = Buffer | number | boolean | null | { [key: string]: PhpBytesValue };

const QUOTE = 0x22;
const COLON = 0x3a;
const SEMI = 0x3b;

/** Parses one serialised value that must span the whole input. Throws COMMAND_INVALID on anything malformed. */
export function unserialize(input: Buffer | string, limits: UnserializeLimits = {}): PhpValue {
  const buffer = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const parser = new Parser(buffer, { maxDepth: limits.maxDepth ?? 8, maxEntries: limits.maxEntries ?? 10_000, bytes: false });
  const value = parser.value(0);
  if (parser.pos !== buffer.length) parser.fail('trailing bytes after the value');
  return value as PhpValue;
}

/**
 * As {@link unserialize}, but string values are returned as the bytes they are (PHP strings
 * are byte strings): the request `message` is decoded by the protocol that reads it, which
 * can then refuse invalid UTF-8 or honour an XML declaration's encoding (§1.3 "Encoding").
 */
export function unserializeBytes(input: Buffer, limits: UnserializeLimits = {}): PhpBytesValue {
  const parser = new Parser(input, { maxDepth: limits.maxDepth ?? 8, maxEntries: limits.maxEntries ?? 10_000, bytes: true });
  const value = parser.value(0);
  if (parser.pos !== input.length) parser.fail('trailing bytes after the value');
  return value as PhpBytesValue;
}

class Parser {
  pos = 0;
  private entries = 0;

  private readonly maxDepth: number;
  private readonly maxEntries: number;
  /** Strings come back as Buffers (binary-safe), not as UTF-8 text. */
  private readonly bytes: boolean;

  constructor(
    private readonly buf: Buffer,
    limits: { maxDepth: number; maxEntries: number; bytes: boolean },
  ) {
    ({ maxDepth: this.maxDepth, maxEntries: this.maxEntries, bytes: this.bytes } = limits);
  }

  fail(why: string): never {
    throw new PatchbayError(ErrorCodes.COMMAND_INVALID, `invalid PHP serialized data at byte ${this.pos}: ${why}`, { context: { offset: this.pos } });
  }

  private expect(byte: number): void {
    if (this.buf[this.pos] !== byte) this.fail(`expected "${String.fromCharCode(byte)}"`);
    this.pos++;
  }

  /** Reads digits (optionally signed) up to `end`, as text. */
  private until(end: number, pattern: RegExp): string {
    const stop = this.buf.indexOf(end, this.pos);
    // Numbers here are short; a missing terminator within 40 bytes is malformed input.
    if (stop < 0 || stop - this.pos > 40) this.fail(`unterminated number`);
    const text = this.buf.toString('latin1', this.pos, stop);
    if (!pattern.test(text)) this.fail(`bad number "${text}"`);
    this.pos = stop + 1;
    return text;
  }

  value(depth: number): PhpValue | PhpBytesValue {
    const tag = this.buf[this.pos];
    if (tag === undefined) this.fail('unexpected end of input');
    if (tag !== 0x4e /* N */ && this.buf[this.pos + 1] !== COLON) this.fail('expected ":" after the type tag');
    switch (tag) {
      case 0x4e: // N;
        this.pos++;
        this.expect(SEMI);
        return null;
      case 0x62: {
        // b:0; / b:1;
        this.pos += 2;
        const bit = this.buf[this.pos];
        if (bit !== 0x30 && bit !== 0x31) this.fail('a boolean is b:0 or b:1');
        this.pos++;
        this.expect(SEMI);
        return bit === 0x31;
      }
      case 0x69: {
        this.pos += 2;
        const n = Number(this.until(SEMI, /^-?\d+$/));
        if (!Number.isSafeInteger(n)) this.fail('integer out of the safe range');
        return n;
      }
      case 0x64: {
        this.pos += 2;
        const text = this.until(SEMI, /^(-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|-?INF|NAN)$/);
        return text === 'INF' ? Infinity : text === '-INF' ? -Infinity : text === 'NAN' ? NaN : Number(text);
      }
      case 0x73:
        return this.bytes ? this.stringBytes() : this.string();
      case 0x61:
        return this.array(depth + 1);
      default:
        return this.fail(`unsupported type "${String.fromCharCode(tag)}"`);
    }
  }

  private string(): string {
    return this.stringBytes().toString('utf8');
  }

  private stringBytes(): Buffer {
    this.pos += 2;
    const length = Number(this.until(COLON, /^\d+$/));
    this.expect(QUOTE);
    const end = this.pos + length;
    // protocols/comodojo.md §1.4: the byte length decides where the string ends.
    if (end + 2 > this.buf.length) this.fail(`string of ${length} bytes runs past the end`);
    const bytes = this.buf.subarray(this.pos, end);
    this.pos = end;
    this.expect(QUOTE);
    this.expect(SEMI);
    return bytes;
  }

  private array(depth: number): PhpArray | PhpBytesValue {
    if (depth > this.maxDepth) this.fail(`arrays nested deeper than ${this.maxDepth}`);
    this.pos += 2;
    const count = Number(this.until(COLON, /^\d+$/));
    this.entries += count;
    if (this.entries > this.maxEntries) this.fail(`more than ${this.maxEntries} array entries`);
    this.expect(0x7b /* { */);
    const out = Object.create(null) as Record<string, PhpValue | PhpBytesValue>;
    for (let i = 0; i < count; i++) {
      const tag = this.buf[this.pos];
      let key: string;
      if (tag === 0x73) key = this.string();
      else if (tag === 0x69 && this.buf[this.pos + 1] === COLON) {
        this.pos += 2;
        key = String(Number(this.until(SEMI, /^-?\d+$/)));
      } else this.fail('an array key is a string or an integer');
      out[key] = this.value(depth);
    }
    this.expect(0x7d /* } */);
    return out as PhpArray;
  }
}

/**
 * Serialises an associative array of scalars (what the envelope sends, §1.5 and §1.7).
 * Integers become `i:`, other numbers `d:`; nested arrays are allowed.
 */
export function serialize(value: PhpValue): string {
  if (value === null) return 'N;';
  switch (typeof value) {
    case 'boolean':
      return value ? 'b:1;' : 'b:0;';
    case 'number':
      if (Number.isInteger(value)) return `i:${value};`;
      return `d:${Number.isNaN(value) ? 'NAN' : value === Infinity ? 'INF' : value === -Infinity ? '-INF' : String(value)};`;
    case 'string':
      return `s:${Buffer.byteLength(value, 'utf8')}:"${value}";`;
    default: {
      const keys = Object.keys(value);
      let out = `a:${keys.length}:{`;
      for (const key of keys) {
        out += /^(0|-?[1-9]\d{0,15})$/.test(key) ? `i:${key};` : serialize(key);
        out += serialize(value[key] as PhpValue);
      }
      return out + '}';
    }
  }
}
