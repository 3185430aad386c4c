import { describe, expect, it } from 'vitest';
import { KEY_SLOT_BYTES, KeyCheck } from './keyCheck.js';

describe('jeedom - apikey check', () => {
  it('jeedom - §5 the key matches only itself: not a prefix, an extension, a NUL-padded copy, another case or the empty key', () => {
    const key = 'k'.repeat(31) + 'é';
    const check = new KeyCheck(key);
    expect(check.matches(key)).toBe(true);
    for (const other of [key.slice(0, -1), `${key}x`, `${key}\0`, key.toUpperCase(), '', 'x'.repeat(KEY_SLOT_BYTES), 'x'.repeat(KEY_SLOT_BYTES + 1)]) {
      expect(check.matches(other)).toBe(false);
    }
    // The slot is reused: a failed check leaves nothing behind for the next.
    expect(check.matches(`${key}zzzz`)).toBe(false);
    expect(check.matches(key)).toBe(true);
  });

  it('jeedom - §5 keys longer than the slot are compared by digest, both ways', () => {
    const long = 'L'.repeat(KEY_SLOT_BYTES + 10);
    expect(new KeyCheck(long).matches(long)).toBe(true);
    expect(new KeyCheck(long).matches(long.slice(0, KEY_SLOT_BYTES))).toBe(false);
    expect(new KeyCheck('short').matches(long)).toBe(false);
  });
});
