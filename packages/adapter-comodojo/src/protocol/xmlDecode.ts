import { TextDecoder } from 'node:util';
import { RpcError } from './registry.js';

/**
 * XML-RPC `methodCall` decoding (protocols/comodojo.md §3.1) by a streaming parser of the XML
 * subset XML-RPC uses, decoding as the stock daemon's expat does:
 * - the bytes are decoded by the BOM (UTF-8, UTF-16 LE/BE) or the declared `encoding`
 *   (UTF-8 when absent; ISO-8859-1, US-ASCII and anything TextDecoder knows), strictly:
 *   invalid bytes are -32700, never replaced;
 * - only the five predefined entities and character references are decoded; any other
 *   `&name;` is -32700 (no DTD can define one: a DTD is refused outright, so nothing expands);
 * - values are built as the elements close, with no intermediate tree, so memory follows the
 *   decoded values and not the markup (fast-xml-parser's tree took ~25x the input);
 * - arrays and structs nest at most {@link MAX_DEPTH} levels (no recursion: no stack to blow).
 * {@link decodeCallSliced} gives the event loop back every {@link SLICE_MS} ms, so one large
 * request does not stall every other client and device.
 */

/** A decoded `methodCall`. */
export interface XmlCall {
  methodName: string;
  params: unknown[];
}

/** Deepest nesting of arrays and structs inside a param. */
export const MAX_DEPTH = 64;
/** Longest run of work before the sliced decoder yields to the event loop, ms. */
export const SLICE_MS = 1;
/** Characters handled between two clock checks (text is handled in pieces of this size). */
const STEP_CHARS = 64 * 1024;
const STEP_TOKENS = 256;

const parse = (detail: string): RpcError => RpcError.of('parse', detail);

/** Decodes a `methodCall` at once (unit tests, fuzzing, small payloads). Throws -32600 / -32700 RpcErrors. */
export function decodeCall(input: Buffer | string): XmlCall {
  const decoder = new CallDecoder(toText(input));
  while (!decoder.step(Number.POSITIVE_INFINITY));
  return decoder.result();
}

/** Decodes a `methodCall`, yielding to the event loop between slices of about {@link SLICE_MS} ms. */
export async function decodeCallSliced(input: Buffer | string): Promise<XmlCall> {
  const text = typeof input === 'string' ? input : await decodeBytesSliced(input);
  const decoder = new CallDecoder(text);
  while (!decoder.step(performance.now() + SLICE_MS)) await nextTurn();
  return decoder.result();
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// ---------------------------------------------------------------------------------------------
// Bytes to text

const LATIN1 = new Set(['iso-8859-1', 'iso8859-1', 'latin1', 'latin-1', 'l1', 'iso_8859-1', 'us-ascii', 'ascii']);

/** The encoding a document's bytes are in: BOM first, then the declaration, else UTF-8. */
function sniff(bytes: Buffer): { encoding: string; skip: number } {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { encoding: 'utf-8', skip: 3 };
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { encoding: 'utf-16le', skip: 2 };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { encoding: 'utf-16be', skip: 2 };
  // The declaration is ASCII in every encoding this can be (an ASCII superset).
  const head = bytes.toString('latin1', 0, Math.min(bytes.length, 200));
  const declared = /^<\?xml\s[^>]*?encoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']/.exec(head)?.[1]?.toLowerCase();
  return { encoding: declared ?? 'utf-8', skip: 0 };
}

function decoderFor(encoding: string): TextDecoder | 'latin1' {
  if (LATIN1.has(encoding)) return 'latin1';
  try {
    // A UTF-16 declaration without a BOM: TextDecoder takes it as little-endian, as expat does.
    return new TextDecoder(encoding === 'utf-16' ? 'utf-16le' : encoding, { fatal: true, ignoreBOM: true });
  } catch {
    throw parse(`unsupported XML encoding "${encoding.slice(0, 40)}"`);
  }
}

/** Strict decoding of a whole document (sync). */
function toText(input: Buffer | string): string {
  if (typeof input === 'string') return input;
  const { encoding, skip } = sniff(input);
  const decoder = decoderFor(encoding);
  if (decoder === 'latin1') return input.toString('latin1', skip);
  try {
    return decoder.decode(input.subarray(skip));
  } catch {
    throw parse(`payload is not valid ${encoding}`);
  }
}

const DECODE_CHUNK = 1024 * 1024;

/** Strict decoding in pieces, yielding between them (a 12 MB payload is ~10 ms of decoding). */
async function decodeBytesSliced(bytes: Buffer): Promise<string> {
  if (bytes.length <= DECODE_CHUNK) return toText(bytes);
  const { encoding, skip } = sniff(bytes);
  const decoder = decoderFor(encoding);
  const parts: string[] = [];
  for (let at = skip; at < bytes.length; at += DECODE_CHUNK) {
    const piece = bytes.subarray(at, Math.min(bytes.length, at + DECODE_CHUNK));
    if (decoder === 'latin1') parts.push(piece.toString('latin1'));
    else {
      try {
        parts.push(decoder.decode(piece, { stream: at + DECODE_CHUNK < bytes.length }));
      } catch {
        throw parse(`payload is not valid ${encoding}`);
      }
    }
    await nextTurn();
  }
  return parts.join('');
}

// ---------------------------------------------------------------------------------------------
// Markup to values

/** What an open element is, what it may contain, and what it has collected so far. */
interface Frame {
  name: string;
  /** Leaf elements collect text; others allow whitespace only. */
  leaf: boolean;
  text: string[];
  /** Values of the child elements this frame keeps (value, data, member, param...). */
  items: unknown[];
  /** Set once a child element was seen, for frames that allow exactly one. */
  child: string | undefined;
  /** methodCall / member: named parts. */
  parts: Record<string, unknown>;
  depth: number;
}

/** Elements holding text only. */
function isLeaf(name: string): boolean {
  switch (name) {
    case 'string':
    case 'int':
    case 'i4':
    case 'double':
    case 'boolean':
    case 'base64':
    case 'dateTime.iso8601':
    case 'nil':
    case 'ex:nil':
    case 'methodName':
    case 'name':
      return true;
    default:
      return false;
  }
}

/** Which child elements each element accepts (anything else is -32700). */
function accepts(parent: string, child: string): boolean {
  switch (parent) {
    case '#document':
      return child === 'methodCall';
    case 'methodCall':
      return child === 'methodName' || child === 'params';
    case 'params':
      return child === 'param';
    case 'param':
      return child === 'value';
    case 'value':
      return child === 'array' || child === 'struct' || (isLeaf(child) && child !== 'methodName' && child !== 'name');
    case 'array':
      return child === 'data';
    case 'data':
      return child === 'value';
    case 'struct':
      return child === 'member';
    case 'member':
      return child === 'name' || child === 'value';
    default:
      return false;
  }
}

/** Elements that take exactly one child element, or one of each name. */
const single = (name: string): boolean => name === 'param' || name === 'value' || name === 'array';

const NAME = '[A-Za-z_:][-A-Za-z0-9_:.]*';
const OPEN_TAG = new RegExp(`<(${NAME})((?:\\s+${NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*)\\s*(/?)>`, 'y');

/** XML whitespace. */
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** Where a name starting at `from` ends (ASCII names: XML-RPC's elements are all ASCII). */
function nameEnd(s: string, from: number): number {
  let i = from;
  for (;;) {
    const c = s.charCodeAt(i);
    const letter = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x3a;
    if (!(letter || (i > from && ((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e)))) return i;
    i++;
  }
}
const DECLARATION = /<\?xml(\s+[^?]*)?\?>/y;
/** Characters XML 1.0 forbids anywhere (expat: "not well-formed (invalid token)"). */
// eslint-disable-next-line no-control-regex -- these control characters are exactly what XML forbids
const FORBIDDEN = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
/** A lone surrogate (text decoded from bytes has none; a JS string given directly may). */
const SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function allowed(text: string): boolean {
  return !FORBIDDEN.test(text) && !(SURROGATE.test(text) && LONE_SURROGATE.test(text));
}
const REFERENCE = /&(#x[0-9A-Fa-f]{1,6}|#[0-9]{1,7}|[A-Za-z_:][-A-Za-z0-9_:.]*)?(;?)/g;
const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes the references of one piece of text; any undefined entity or bare `&` is -32700. */
function unescape(text: string): string {
  if (!allowed(text)) throw parse('a character XML does not allow');
  if (!text.includes('&')) return text;
  return text.replace(REFERENCE, (_all, ref: string | undefined, semi: string) => {
    if (ref === undefined || semi !== ';') throw parse('a bare "&" (not a reference)');
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      const valid = code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
      if (!valid) throw parse(`character reference &${ref}; is not an XML character`);
      return String.fromCodePoint(code);
    }
    const known = PREDEFINED[ref];
    if (known === undefined) throw parse(`undefined entity &${ref.slice(0, 40)};`);
    return known;
  });
}

/** The streaming decoder: {@link step} runs until done (true) or until the deadline (false). */
class CallDecoder {
  private pos = 0;
  private readonly stack: Frame[] = [frame('#document', 0)];
  private call: XmlCall | undefined;
  /** A text node being consumed in pieces: where it ends. */
  private textEnd = -1;

  constructor(private readonly s: string) {
    if (s.trim() === '') throw RpcError.of('invalidRequest');
    // §3.1: a DTD is refused before anything else, so no entity is ever defined.
    if (/<!DOCTYPE/i.test(s.slice(0, 4096))) throw parse('XML with a DTD (refused: no entity expansion)');
    DECLARATION.lastIndex = 0;
    if (DECLARATION.test(s)) this.pos = DECLARATION.lastIndex;
  }

  result(): XmlCall {
    if (!this.call) throw parse('no methodCall element');
    return this.call;
  }

  step(deadline: number): boolean {
    const s = this.s;
    let tokens = 0;
    while (this.pos < s.length) {
      if (++tokens % STEP_TOKENS === 0 && performance.now() > deadline) return false;
      if (this.textEnd >= 0) {
        if (!this.textPiece() && performance.now() > deadline) return false;
        continue;
      }
      if (s.charCodeAt(this.pos) !== 0x3c /* < */) {
        const next = s.indexOf('<', this.pos);
        this.textEnd = next < 0 ? s.length : next;
        continue;
      }
      this.markup();
    }
    if (this.stack.length !== 1) throw parse(`<${this.top().name}> is not closed`);
    if (!this.call) throw parse('no methodCall element');
    return true;
  }

  private top(): Frame {
    return this.stack[this.stack.length - 1] as Frame;
  }

  /** Consumes up to STEP_CHARS of the current text node; true when the node is done. */
  private textPiece(): boolean {
    const end = this.textEnd;
    let cut = Math.min(end, this.pos + STEP_CHARS);
    if (cut < end) {
      // Never cut a reference in two: move the cut before an `&` whose `;` is past it.
      const window = Math.max(this.pos, cut - 12);
      const tail = this.s.slice(window, cut).lastIndexOf('&');
      if (tail >= 0 && !this.s.slice(window + tail, cut).includes(';')) cut = window + tail;
      if (cut === this.pos) cut = Math.min(end, this.pos + STEP_CHARS);
    }
    this.addText(unescape(this.s.slice(this.pos, cut)));
    this.pos = cut;
    if (cut < end) return false;
    this.textEnd = -1;
    return true;
  }

  private addText(text: string): void {
    const top = this.top();
    if (top.leaf) top.text.push(text);
    else if (text.trim() !== '') {
      // A bare <value>text</value> is a string (§3.1 "SHOULD also accept"); other elements hold no text.
      if (top.name !== 'value') throw parse(`text inside <${top.name}>`);
      top.text.push(text);
    } else if (top.name === 'value') top.text.push(text);
  }

  private markup(): void {
    const s = this.s;
    const at = this.pos;
    if (s.startsWith('<!--', at)) {
      const end = s.indexOf('-->', at + 4);
      if (end < 0) throw parse('unterminated comment');
      this.pos = end + 3;
      return;
    }
    if (s.startsWith('<![CDATA[', at)) {
      const end = s.indexOf(']]>', at + 9);
      if (end < 0 || this.stack.length === 1) throw parse('CDATA outside an element or unterminated');
      const text = s.slice(at + 9, end);
      if (!allowed(text)) throw parse('a character XML does not allow');
      this.addText(text);
      this.pos = end + 3;
      return;
    }
    if (s.startsWith('<!', at)) throw parse(s.startsWith('<!DOCTYPE', at) ? 'XML with a DTD (refused: no entity expansion)' : 'markup declaration');
    if (s.startsWith('<?', at)) {
      const end = s.indexOf('?>', at + 2);
      // The XML declaration is allowed only at the very start (taken in the constructor).
      if (end < 0 || /^<\?xml[\s?]/i.test(s.slice(at, at + 6))) throw parse('misplaced XML declaration or unterminated processing instruction');
      this.pos = end + 2;
      return;
    }
    if (s.charCodeAt(at + 1) === 0x2f /* / */) {
      const end = nameEnd(s, at + 2);
      const name = s.slice(at + 2, end);
      let close = end;
      while (isSpace(s.charCodeAt(close))) close++;
      if (end === at + 2 || s.charCodeAt(close) !== 0x3e /* > */) throw parse('malformed end tag');
      if (this.stack.length === 1 || this.top().name !== name) throw parse(`</${name.slice(0, 40)}> does not close the open element`);
      this.pos = close + 1;
      this.close();
      return;
    }
    // The common case, a tag without attributes, without a regular expression.
    const end = nameEnd(s, at + 1);
    const next = s.charCodeAt(end);
    let name: string;
    let empty: boolean;
    if (end > at + 1 && next === 0x3e) {
      name = s.slice(at + 1, end);
      empty = false;
      this.pos = end + 1;
    } else if (end > at + 1 && next === 0x2f && s.charCodeAt(end + 1) === 0x3e) {
      name = s.slice(at + 1, end);
      empty = true;
      this.pos = end + 2;
    } else {
      OPEN_TAG.lastIndex = at;
      const match = OPEN_TAG.exec(s);
      if (!match) throw parse('malformed start tag');
      this.pos = OPEN_TAG.lastIndex;
      name = match[1] as string;
      empty = match[3] === '/';
    }
    this.open(name);
    if (empty) this.close();
  }

  private open(name: string): void {
    const parent = this.top();
    if (!accepts(parent.name, name)) throw parse(`<${name.slice(0, 40)}> inside <${parent.name}>`);
    if (parent.name === '#document' && this.call) throw parse('a second root element');
    const one = single(parent.name);
    if (one || parent.name === 'member' || parent.name === 'methodCall') {
      if (one ? parent.child !== undefined : Object.hasOwn(parent.parts, name)) throw parse(`a second child in <${parent.name}>`);
      parent.child = name;
    }
    if (parent.name === 'value' && parent.text.join('').trim() !== '') throw parse('text and an element inside <value>');
    const nesting = name === 'array' || name === 'struct' ? parent.depth + 1 : parent.depth;
    if (nesting > MAX_DEPTH) throw parse(`nested deeper than ${MAX_DEPTH} levels`);
    this.stack.push(frame(name, nesting, isLeaf(name)));
  }

  private close(): void {
    const done = this.stack.pop() as Frame;
    const parent = this.top();
    const value = finish(done);
    switch (parent.name) {
      case '#document':
        this.call = value as XmlCall;
        break;
      case 'methodCall':
      case 'member':
        parent.parts[done.name] = value;
        break;
      default:
        parent.items.push(value);
    }
  }
}

const NO_PARTS: Record<string, unknown> = Object.freeze(Object.create(null) as Record<string, unknown>);

function joinText(done: Frame): string {
  return done.text.length === 1 ? (done.text[0] as string) : done.text.join('');
}

function frame(name: string, depth: number, leaf = false): Frame {
  const parts = name === 'member' || name === 'methodCall' ? (Object.create(null) as Record<string, unknown>) : NO_PARTS;
  return { name, leaf, text: [], items: [], child: undefined, parts, depth };
}

/** The value an element stands for, once closed. */
function finish(done: Frame): unknown {
  switch (done.name) {
    case 'methodCall': {
      const methodName = typeof done.parts['methodName'] === 'string' ? done.parts['methodName'].trim() : '';
      if (methodName === '') throw parse('no methodName');
      return { methodName, params: (done.parts['params'] as unknown[] | undefined) ?? [] } satisfies XmlCall;
    }
    case 'params':
    case 'data':
      return done.items;
    case 'param':
      if (done.items.length !== 1) throw parse('a <param> without its <value>');
      return done.items[0];
    case 'value':
      if (done.items.length === 0) return joinText(done);
      if (joinText(done).trim() !== '') throw parse('text and an element inside <value>');
      return done.items[0];
    case 'array':
      if (done.items.length !== 1) throw parse('an <array> without its <data>');
      return done.items[0];
    case 'struct': {
      const out = Object.create(null) as Record<string, unknown>;
      for (const [name, value] of done.items as [string, unknown][]) out[name] = value;
      return out;
    }
    case 'member': {
      if (!Object.hasOwn(done.parts, 'name') || !Object.hasOwn(done.parts, 'value')) throw parse('a <member> needs a <name> and a <value>');
      return [done.parts['name'], done.parts['value']];
    }
    case 'methodName':
    case 'name':
    case 'string':
    case 'dateTime.iso8601':
      return done.name === 'dateTime.iso8601' ? joinText(done).trim() : joinText(done);
    case 'int':
    case 'i4': {
      const t = joinText(done).trim();
      if (!/^[-+]?\d+$/.test(t)) throw parse(`<${done.name}> is not an integer`);
      return Number(t);
    }
    case 'double': {
      const t = joinText(done).trim();
      const n = Number(t);
      if (t === '' || !Number.isFinite(n)) throw parse('<double> is not a number');
      return n;
    }
    case 'boolean': {
      const t = joinText(done).trim().toLowerCase();
      if (t === '1' || t === 'true') return true;
      if (t === '0' || t === 'false') return false;
      throw parse('<boolean> is not 0 or 1');
    }
    case 'base64':
      return Buffer.from(joinText(done).replace(/\s+/g, ''), 'base64').toString('utf8');
    case 'nil':
    case 'ex:nil':
      return null;
    default:
      throw parse(`<${done.name}>`);
  }
}
