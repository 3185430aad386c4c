/**
 * JSON text byte-for-byte like Python's `json.dumps` with its defaults, which is what the
 * reference daemon posts (protocols/jeedom.md §4.3): `", "` and `": "` separators, every
 * character outside printable ASCII escaped as lowercase `\uXXXX` (surrogate pairs above
 * U+FFFF), `/` left alone, and floats in Python's `repr` form (`1e-05`).
 * Maps serialise as objects in insertion order: plain JS objects would move integer-like
 * keys (a Jeedom command id such as "17") to the front.
 */

/** What {@link pyJson} serialises: JSON values, with Maps allowed for ordered objects. */
export type PyJsonValue = string | number | boolean | null | undefined | readonly PyJsonValue[] | ReadonlyMap<string, PyJsonValue> | { readonly [key: string]: PyJsonValue };

// Printable ASCII minus `"` and `\` needs no escape (Python's ESCAPE_ASCII is [\\"]|[^\ -~]).
const NEEDS_ESCAPE = /[^ !#-[\]-~]/;
const SHORT: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

/** A string as Python's `json.dumps` (ensure_ascii=True) writes it. */
export function pyString(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return '"' + value + '"';
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    const code = value.charCodeAt(i);
    if (code >= 0x20 && code < 0x7f && ch !== '"' && ch !== '\\') {
      out += ch;
      continue;
    }
    const short = SHORT[ch];
    // JS strings are UTF-16 already, so a surrogate pair is written as its two code units,
    // exactly as Python splits characters above U+FFFF.
    out += short ?? '\\u' + code.toString(16).padStart(4, '0');
  }
  return out + '"';
}

/** A number as Python writes it: integers plainly, floats in `repr` form. */
export function pyNumber(value: number): string {
  // Python would write NaN/Infinity, which PHP's json_decode refuses: null is the safe choice.
  if (!Number.isFinite(value)) return 'null';
  if (Number.isInteger(value)) {
    // JS switches to exponent notation at 1e21; a Python int never does.
    return Math.abs(value) < 1e21 ? String(value === 0 ? 0 : value) : BigInt(value).toString();
  }
  const abs = Math.abs(value);
  // Python's float repr uses exponent notation below 1e-4 (JS: below 1e-6); non-integer
  // floats above 1e16 cannot exist (2^53 < 1e16), so only the small end differs.
  if (abs >= 1e-4) return String(value);
  const [mantissa, exponent] = value.toExponential().split('e') as [string, string];
  const sign = exponent.startsWith('-') ? '-' : '+';
  const digits = exponent.replace(/^[+-]/, '').padStart(2, '0');
  return `${mantissa}e${sign}${digits}`;
}

/** Serialises a value exactly as Python's `json.dumps(value)` would. `undefined` becomes null. */
export function pyJson(value: PyJsonValue): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return pyString(value);
    case 'number':
      return pyNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      break;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return '[' + (value as readonly PyJsonValue[]).map(pyJson).join(', ') + ']';
  }
  const all = value instanceof Map ? [...(value as ReadonlyMap<string, PyJsonValue>).entries()] : Object.entries(value as Record<string, PyJsonValue>);
  // Like JSON.stringify, an undefined member is left out (Python has no such value).
  const entries = all.filter((entry) => entry[1] !== undefined);
  if (entries.length === 0) return '{}';
  let out = '{';
  for (let i = 0; i < entries.length; i++) {
    const [key, item] = entries[i] as [string, PyJsonValue];
    out += (i === 0 ? '' : ', ') + pyString(key) + ': ' + pyJson(item);
  }
  return out + '}';
}
