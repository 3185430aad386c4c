import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { NOT_PLAIN, parsePlainBlockYaml } from '../src/config/blockYaml.js';
import { parseConfigText } from '../src/config/file.js';

/** A config shaped as the scale bench writes one (and as people do), every kind of value in it. */
function bigConfig(devices: number): unknown {
  const sensors: Record<string, number> = {};
  for (let i = 0; i < devices; i++) for (const channel of ['temperature', 'humidity', 'relay']) sensors[`d${i}.${channel}`] = 3 * i + 1;
  return {
    gateway: { name: 'plant-1', dataDir: '/var/lib/patchbay', http: { host: '127.0.0.1', port: 8080, enabled: true, token: 'a b # not a comment', empty: '' }, drainTimeoutMs: -0, ratio: null },
    log: { level: 'warn', format: 'json' },
    devices: Array.from({ length: devices }, (_, i) => ({ id: `d${i}`, driver: 'sim', options: { interval: 2000, tags: ['a', 'b'], nested: [[1, 2], []], url: `tcp://127.0.0.1:${1000 + i}/x@y+z` } })),
    hosts: [{ id: 'domogik', adapter: 'domogik', options: { sensors, commands: {}, list: [] } }],
  };
}

describe('plain block YAML', () => {
  it('config - plain block YAML (as yaml.stringify writes it) is read without the yaml library, to the same value', () => {
    const text = `# a comment\n${stringify(bigConfig(200))}\n  # an indented comment\n`;
    const value = parsePlainBlockYaml(text);
    expect(value).not.toBe(NOT_PLAIN);
    expect(value).toEqual(parse(text));
    expect(Object.is((value as { gateway: { drainTimeoutMs: number } }).gateway.drainTimeoutMs, -0)).toBe(true);
    expect(parseConfigText(text, 'c.yaml')).toEqual(parse(text));
  });

  it('config - anything outside the plain subset is left to the yaml library, which reads it as before', () => {
    const outside = [
      'a: {x: 1}', // flow map
      'a: [1, 2]',
      'a: "x\\ty"', // an escape
      'a: |\n  text\n', // block scalar
      'a: &x 1\nb: *x', // anchor, alias
      'a: !!str 1', // tag
      '%YAML 1.2\n---\na: 1',
      'a: 1\n---\nb: 2',
      'a:\t1',
      'a: 1\r\nb: 2',
      'a: 007', // the core schema's int, not a plain string
      'a: 1.5',
      'a: 1e3',
      'a: 0x1f',
      'a: .inf',
      'a: True',
      'a: NULL',
      'a: ~',
      'true: 1', // a key that is not a string
      'null: 1',
      '__proto__: 1',
      'a: x # comment',
      'a: x ', // trailing space
      'a: b:',
      'a:\n- 1\n- 2', // a sequence at its key's indentation
      'a:\n    b: 1\n  c: 2', // uneven indentation
      '"quoted key": 1',
      'a: 99999999999999999999',
      '',
      '  a: 1',
      '? a\n: 1',
    ];
    for (const text of outside) {
      expect(parsePlainBlockYaml(text), text).toBe(NOT_PLAIN);
      let expected: unknown;
      try {
        expected = parse(text);
      } catch {
        continue;
      }
      expect(parseConfigText(text, 'c.yaml'), text).toEqual(expected);
    }
  });

  it('config - a duplicate key in plain YAML is left to the library, whose error names both places', () => {
    const text = 'devices:\n  - id: a\n    driver: sim\n    id: b\n';
    expect(parsePlainBlockYaml(text)).toBe(NOT_PLAIN);
    expect(() => parseConfigText(text, 'c.yaml')).toThrow('c.yaml is not valid YAML: duplicate key "id" at line 4, column 5 (first at line 2, column 5): map keys must be unique');
  });
});
