/**
 * Enough of semver's range syntax for a definition's `coreVersion`: `1.2.3`, `^1.2.3`,
 * `~1.2.3`, `1.x`, comparators (`>=1.2.0 <2`) and `||`. Pre-release tags are compared as
 * plain versions (the core is not published with any).
 */
type Triple = [number, number, number];

function parse(version: string): Triple | undefined {
  const m = /^v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?(?:-[0-9A-Za-z.-]+)?$/.exec(version.trim());
  if (!m) return undefined;
  const n = (s: string | undefined) => (s === undefined || s === 'x' || s === '*' ? -1 : Number(s));
  return [Number(m[1]), n(m[2]), n(m[3])];
}

function compare(a: Triple, b: Triple): number {
  for (let i = 0; i < 3; i++) if ((a[i] as number) !== (b[i] as number)) return (a[i] as number) - (b[i] as number);
  return 0;
}

/** Lowest and (exclusive) highest version a partial like `1.x` or `1.2` stands for. */
function span(p: Triple): { low: Triple; high: Triple } {
  if (p[1] < 0) return { low: [p[0], 0, 0], high: [p[0] + 1, 0, 0] };
  if (p[2] < 0) return { low: [p[0], p[1], 0], high: [p[0], p[1] + 1, 0] };
  return { low: p, high: [p[0], p[1], p[2] + 1] };
}

function comparator(v: Triple, token: string): boolean {
  const m = /^(\^|~|>=|<=|>|<|=)?(.+)$/.exec(token);
  if (!m) return false;
  const operator = m[1] ?? '=';
  const target = parse(m[2] as string);
  if (!target) return false;
  const { low, high } = span(target);
  switch (operator) {
    case '^': {
      // ^1.2.3 := <2.0.0; ^0.2.3 := <0.3.0; ^0.0.3 := <0.0.4 (the left-most non-zero part is fixed).
      const upper: Triple = low[0] > 0 || target[1] < 0 ? [low[0] + 1, 0, 0] : low[1] > 0 || target[2] < 0 ? [0, low[1] + 1, 0] : [0, 0, low[2] + 1];
      return compare(v, low) >= 0 && compare(v, upper) < 0;
    }
    case '~':
      return compare(v, low) >= 0 && compare(v, target[1] < 0 ? [low[0] + 1, 0, 0] : [low[0], low[1] + 1, 0]) < 0;
    case '>=':
      return compare(v, low) >= 0;
    case '>':
      return compare(v, high) >= 0;
    case '<=':
      return compare(v, high) < 0;
    case '<':
      return compare(v, low) < 0;
    default:
      return compare(v, low) >= 0 && compare(v, high) < 0;
  }
}

/** True when `version` is in `range`; false for anything unparseable. */
export function satisfies(version: string, range: string): boolean {
  const v = parse(version);
  if (!v || v.some((n) => n < 0)) return false;
  return range.split('||').some((alternative) => {
    const tokens = alternative.trim().replace(/([<>=^~]+)\s+/g, '$1').split(/\s+/).filter(Boolean);
    return tokens.length > 0 && tokens.every((t) => (t === '*' || t === 'x' ? true : comparator(v, t)));
  });
}
