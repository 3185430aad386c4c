import { describe, expect, it } from 'vitest';
import { serialize, unserialize } from './phpSerialize.js';

describe('phpSerialize', () => {
  it('phpSerialize - writes the envelope byte-exact (protocols/comodojo.md §1.5, §1.7)', () => {
    expect(serialize({ status: 'connected', version: '1.0' })).toBe('a:2:{s:6:"status";s:9:"connected";s:7:"version";s:3:"1.0";}');
    expect(serialize({ status: true, message: null })).toBe('a:2:{s:6:"status";b:1;s:7:"message";N;}');
    expect(serialize({ status: false, message: 'Bad validation type' })).toBe('a:2:{s:6:"status";b:0;s:7:"message";s:19:"Bad validation type";}');
  });

  it('phpSerialize - string lengths are UTF-8 bytes, and the end is found by length, not by ";', () => {
    const tricky = 'é€😀 ";} s:3:"x"; \r\n';
    const text = serialize({ message: tricky });
    expect(text).toContain(`s:${Buffer.byteLength(tricky)}:"`);
    expect(unserialize(text)).toEqual({ message: tricky });
  });

  it('phpSerialize - reads every scalar type, integer keys and nested arrays, keys in any order', () => {
    expect(unserialize('a:6:{s:1:"i";i:-42;s:1:"d";d:1.0E+20;s:1:"b";b:0;s:1:"n";N;i:7;s:1:"x";s:1:"a";a:1:{i:0;d:0.5;}}')).toEqual({
      i: -42,
      d: 1e20,
      b: false,
      n: null,
      '7': 'x',
      a: { '0': 0.5 },
    });
    expect(unserialize('a:2:{s:7:"message";s:2:"hi";s:12:"content_type";s:8:"text/xml";}')).toEqual({ message: 'hi', content_type: 'text/xml' });
  });

  it('phpSerialize - round-trips what it writes', () => {
    const value = { a: 'x', b: 1, c: 2.5, d: true, e: null, f: { g: 'nested' } };
    expect(unserialize(serialize(value))).toEqual(value);
  });

  it('phpSerialize - refuses malformed input with a coded error naming the offset', () => {
    const bad = [
      '',
      'a:2:{s:1:"a";s:1:"b";}',
      's:10:"short";',
      's:1:"ab";',
      'b:2;',
      'i:12x;',
      'a:1:{s:1:"a";O:8:"stdClass":0:{}}',
      'a:1:{d:1;s:1:"a";}',
      's:1:"a";trailing',
      'a:1:{s:1:"a";i:99999999999999999999;}',
      'N',
    ];
    for (const input of bad) expect(() => unserialize(input), input).toThrow(expect.objectContaining({ code: 'PB206_COMMAND_INVALID', message: expect.stringMatching(/at byte \d+/) }));
  });

  it('phpSerialize - bounds nesting depth and entry count', () => {
    const deep = 'a:1:{i:0;'.repeat(20) + 'N;' + '}'.repeat(20);
    expect(() => unserialize(deep)).toThrow(/nested deeper than 8/);
    expect(unserialize(deep, { maxDepth: 25 })).toBeTruthy();
    expect(() => unserialize('a:50000:{')).toThrow(/more than 10000 array entries/);
    expect(() => unserialize('a:2:{i:0;N;i:1;N;}', { maxEntries: 1 })).toThrow(/more than 1 array entries/);
  });
});
