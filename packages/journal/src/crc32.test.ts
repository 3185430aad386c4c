import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32Range } from './crc32.js';

describe('crc32Range', () => {
  it('gives zlib.crc32 of the range, for every length from 0 to 300 and any offset', () => {
    const bytes = randomBytes(400);
    for (let length = 0; length <= 300; length++) {
      for (const start of [0, 1, 3, 7, 50]) {
        expect(crc32Range(bytes, start, start + length)).toBe(crc32(bytes.subarray(start, start + length)));
      }
    }
  });

  it('gives the same value as zlib on a record line with multi-byte UTF-8, and known values', () => {
    const line = Buffer.from('e\t42\t{"kind":"state","device":"salon-é","channel":"température","value":"日本 ✓"}', 'utf8');
    expect(crc32Range(line, 0, line.length)).toBe(crc32(line));
    // The standard check value of CRC-32/ISO-HDLC, and the empty range.
    expect(crc32Range(Buffer.from('123456789'), 0, 9)).toBe(0xcbf43926);
    expect(crc32Range(Buffer.alloc(0), 0, 0)).toBe(0);
  });
});
