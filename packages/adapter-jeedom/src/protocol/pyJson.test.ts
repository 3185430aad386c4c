import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pyJson, pyNumber } from './pyJson.js';

/** Python's own json.dumps of each JSON text (the real reference serialiser). */
function pythonDumps(texts: string[]): string[] {
  const script = 'import json,sys\nfor line in sys.stdin:\n    print(json.dumps(json.loads(line)))';
  const result = spawnSync('/usr/bin/python3', ['-c', script], { input: texts.join('\n') + '\n', encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout.split('\n').slice(0, texts.length);
}

describe('jeedom - Python-compatible JSON (§10.26)', () => {
  it('jeedom - §10.26 bodies are byte-identical to Python json.dumps for the spec examples', () => {
    const value = { key1: 'value1', accent: 'é', n: 1, f: 1.5, b: true, none: null, slash: 'a/b', emoji: '😀', ctl: '\u0001\t\u007f', q: '"\\' };
    const [expected] = pythonDumps([JSON.stringify(value)]);
    expect(pyJson(value)).toBe(expected);
    expect(pyJson(value)).toContain('"accent": "\\u00e9"');
    expect(pyJson(value)).toContain('"emoji": "\\ud83d\\ude00"');
  });

  it('jeedom - §10.26 floats are written in Python repr form', () => {
    expect([1e-5, 1.5e-7, 0.0001, 21.5, -2.5e-5, 123.456].map(pyNumber)).toEqual(pythonDumps(['1e-05', '1.5e-07', '0.0001', '21.5', '-2.5e-05', '123.456']));
  });

  it('jeedom - §10.26 arbitrary JSON values serialise exactly as Python does', () => {
    // Integer-valued floats above 1e21 are the documented exception (§4.3: JS cannot tell 21.0 from 21).
    const samples = fc.sample(fc.jsonValue({ maxDepth: 3 }), 300).map((v) => JSON.stringify(v)).filter((t) => !/e\+/.test(t));
    const expected = pythonDumps(samples);
    samples.forEach((text, i) => expect(pyJson(JSON.parse(text))).toBe(expected[i]));
  });

  it('jeedom - keeps insertion order for Map objects, even for integer-like keys', () => {
    const replies = new Map<string, number>([['b', 1], ['17', 2], ['3', 3]]);
    expect(pyJson(replies)).toBe('{"b": 1, "17": 2, "3": 3}');
  });
});
