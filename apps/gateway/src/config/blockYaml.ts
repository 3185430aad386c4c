/**
 * The plain block YAML that `yaml.stringify` writes and most hand-written configs are (nested
 * maps and `- ` sequences, one `key: value` a line, full-line comments), read without the
 * `yaml` library: its CST parser takes ~1 s of a 10,000-device start-up (1.5 MB of config),
 * this ~100 ms. Anything outside that subset — flow collections (but `{}` and `[]`), quotes
 * with escapes, block scalars, anchors, tags, directives, tabs, a scalar the core schema could
 * read two ways, a duplicate key, odd indentation — gives {@link NOT_PLAIN}, and the caller
 * parses with the library as before: what a text means, and every error with its line and
 * column, stay the library's.
 */

/** Returned when the text is not in the subset this reads. */
export const NOT_PLAIN: unique symbol = Symbol('not plain block YAML');

const KEY = /^([A-Za-z_][A-Za-z0-9_./-]*):(?: (.*))?$/;
const DASHES = /^(?:- )*/;
const INT = /^-?(?:0|[1-9][0-9]*)$/;
// Starts with a letter or `/`, no space, no trailing `:`: a string under the core schema whatever its letters.
const PLAIN_STRING = /^[A-Za-z/][A-Za-z0-9_./:@+-]*$/;
const DOTTED_DIGITS = /^[0-9]+(?:\.[0-9]+){2,}$/;
const DOUBLE_QUOTED = /^"([^"\\]*)"$/;
const SINGLE_QUOTED = /^'([^']*)'$/;
/** Plain words the core schema reads as something else than a string (or a key that is not one). */
const SPECIAL = new Set(['True', 'TRUE', 'False', 'FALSE', 'Null', 'NULL', 'true', 'false', 'null', '__proto__']);

interface Line {
  indent: number;
  dashes: number;
  key: string | undefined;
  /** The scalar's text, or undefined after `key:` with nothing behind it. */
  value: string | undefined;
}

class NotPlain extends Error {}
const notPlain = (): never => {
  throw new NotPlain();
};

/** The value `text` means, or {@link NOT_PLAIN}. */
export function parsePlainBlockYaml(text: string): unknown {
  if (/[\t\r\uFEFF]/.test(text)) return NOT_PLAIN;
  const lines: Line[] = [];
  for (const raw of text.split('\n')) {
    let indent = 0;
    while (raw.charCodeAt(indent) === 32) indent++;
    if (indent === raw.length || raw.charCodeAt(indent) === 35 /* # */) continue;
    const body = raw.slice(indent);
    const dashes = (DASHES.exec(body)?.[0].length ?? 0) / 2;
    const content = body.slice(dashes * 2);
    const keyed = KEY.exec(content);
    if (keyed) {
      const key = keyed[1] as string;
      if (SPECIAL.has(key)) return NOT_PLAIN;
      lines.push({ indent, dashes, key, value: keyed[2] });
    } else if (dashes > 0) lines.push({ indent, dashes, key: undefined, value: content });
    else return NOT_PLAIN;
  }
  if (lines.length === 0 || (lines[0] as Line).indent !== 0) return NOT_PLAIN;
  try {
    const reader = new Reader(lines);
    const value = reader.node(0);
    return reader.at === lines.length ? value : NOT_PLAIN;
  } catch (error) {
    if (error instanceof NotPlain) return NOT_PLAIN;
    throw error;
  }
}

function scalar(text: string): unknown {
  if (INT.test(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : notPlain();
  }
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  // What `yaml.stringify` writes for an empty map or list: the only flow collections read here.
  if (text === '{}') return {};
  if (text === '[]') return [];
  if (PLAIN_STRING.test(text)) return text.endsWith(':') || SPECIAL.has(text) ? notPlain() : text;
  if (DOTTED_DIGITS.test(text)) return text;
  const quoted = DOUBLE_QUOTED.exec(text) ?? SINGLE_QUOTED.exec(text);
  return quoted ? quoted[1] : notPlain();
}

/** Reads lines from `at`; `dash` of them consumed on the current line. */
class Reader {
  at = 0;
  private dash = 0;
  constructor(private readonly lines: readonly Line[]) {}

  private get line(): Line {
    return this.lines[this.at] as Line;
  }

  /** The node whose first token is at the cursor, in column `column`. */
  node(column: number): unknown {
    const line = this.line;
    if (this.dash < line.dashes) return this.sequence(column);
    if (line.key !== undefined) return this.map(column);
    const value = scalar(line.value as string);
    this.next();
    return value;
  }

  private next(): void {
    this.at++;
    this.dash = 0;
  }

  private sequence(column: number): unknown[] {
    const items: unknown[] = [];
    for (;;) {
      this.dash++;
      items.push(this.node(column + 2));
      if (this.at === this.lines.length) return items;
      const { indent, dashes } = this.line;
      if (indent > column) notPlain();
      if (indent < column || dashes === 0) return items;
    }
  }

  private map(column: number): Record<string, unknown> {
    const map: Record<string, unknown> = {};
    for (;;) {
      const { key, value } = this.line as Line & { key: string };
      if (Object.hasOwn(map, key)) notPlain();
      this.next();
      if (value !== undefined) map[key] = scalar(value);
      else if (this.at < this.lines.length && this.line.indent > column) map[key] = this.node(this.line.indent);
      // A sequence at the key's own indentation is valid YAML, but left to the library.
      else if (this.at < this.lines.length && this.line.indent === column && this.line.dashes > 0) notPlain();
      else map[key] = null;
      if (this.at === this.lines.length) return map;
      const next = this.line;
      if (next.indent > column) notPlain();
      if (next.indent < column) return map;
      if (next.dashes > 0 || next.key === undefined) notPlain();
    }
  }
}
