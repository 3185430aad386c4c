import { ErrorCodes, isPatchbayError } from '@patchbay/core';
import { describe, expect, it } from 'vitest';
import { createFramer, type BadFrameKind, type Framer } from './framing.js';

function collect(make: (sink: { frame(p: Buffer): void; bad(k: BadFrameKind, d: string): void }) => Framer) {
  const frames: string[] = [];
  const bad: { kind: BadFrameKind; detail: string }[] = [];
  const framer = make({ frame: (p) => frames.push(p.toString('latin1')), bad: (kind, detail) => bad.push({ kind, detail }) });
  return { framer, frames, bad };
}

const lines = (max = 32, delimiter = '\n') => collect((sink) => createFramer({ type: 'delimiter', delimiter }, { maxFrameBytes: max, sink }));
const lengths = (options: { lengthBytes?: 1 | 2 | 4; endian?: 'big' | 'little'; max?: number } = {}) =>
  collect((sink) => createFramer({ type: 'length', lengthBytes: options.lengthBytes ?? 2, endian: options.endian ?? 'big' }, { maxFrameBytes: options.max ?? 64, sink }));

describe('delimiter framing', () => {
  it('framing - several frames in one chunk', () => {
    const { framer, frames, bad } = lines();
    framer.push(Buffer.from('a=1\nb=2\nc=3\n'));
    expect(frames).toEqual(['a=1', 'b=2', 'c=3']);
    expect(bad).toEqual([]);
  });

  it('framing - a frame split over many chunks, byte by byte', () => {
    const { framer, frames } = lines();
    for (const byte of Buffer.from('{"channel":"t","value":1}\nx=2\n')) framer.push(Buffer.from([byte]));
    expect(frames).toEqual(['{"channel":"t","value":1}', 'x=2']);
  });

  it('framing - a two-byte delimiter split across chunks', () => {
    const { framer, frames } = lines(32, '\r\n');
    framer.push(Buffer.from('one\r'));
    framer.push(Buffer.from('\ntwo\r'));
    framer.push(Buffer.from('\n'));
    expect(frames).toEqual(['one', 'two']);
  });

  it('framing - empty frames are skipped silently', () => {
    const { framer, frames, bad } = lines();
    framer.push(Buffer.from('\n\na\n\n'));
    expect(frames).toEqual(['a']);
    expect(bad).toEqual([]);
  });

  it('framing - a frame of exactly the maximum passes, one byte more is dropped whole and reading resumes', () => {
    const { framer, frames, bad } = lines(8);
    framer.push(Buffer.from('12345678\n123456789\nok\n'));
    expect(frames).toEqual(['12345678', 'ok']);
    expect(bad).toHaveLength(1);
    expect(bad[0]?.kind).toBe('oversize');
    expect(bad[0]?.detail).toContain('9 bytes');
  });

  it('framing - an oversize frame spread over chunks is reported once, with its full size', () => {
    const { framer, frames, bad } = lines(8, '\r\n');
    framer.push(Buffer.from('x'.repeat(20)));
    framer.push(Buffer.from('y'.repeat(20) + '\r'));
    framer.push(Buffer.from('\nnext\r\n'));
    expect(bad).toEqual([{ kind: 'oversize', detail: expect.stringContaining('40 bytes') }]);
    expect(frames).toEqual(['next']);
  });

  it('framing - a partial frame at disconnect is reported with its size, and the next stream starts clean', () => {
    const { framer, frames, bad } = lines();
    framer.push(Buffer.from('a=1\n{"chan'));
    framer.end();
    expect(bad).toEqual([{ kind: 'partial', detail: expect.stringContaining('6 bytes') }]);
    framer.push(Buffer.from('b=2\n'));
    expect(frames).toEqual(['a=1', 'b=2']);
  });

  it('framing - an oversize frame cut by a disconnect counts as oversize, not also partial', () => {
    const { framer, bad } = lines(4);
    framer.push(Buffer.from('abcdefgh'));
    framer.end();
    expect(bad.map((b) => b.kind)).toEqual(['oversize']);
  });

  it('framing - encode appends the delimiter and refuses a payload containing it', () => {
    const { framer } = lines(32, ';');
    expect(framer.encode(Buffer.from('relay=1')).toString()).toBe('relay=1;');
    let error: unknown;
    try {
      framer.encode(Buffer.from('a;b'));
    } catch (e) {
      error = e;
    }
    expect(isPatchbayError(error, ErrorCodes.COMMAND_INVALID)).toBe(true);
  });
});

describe('length-prefix framing', () => {
  const frame = (payload: string, header = 2, endian: 'big' | 'little' = 'big'): Buffer => {
    const h = Buffer.alloc(header);
    if (endian === 'big') h.writeUIntBE(payload.length, 0, header);
    else h.writeUIntLE(payload.length, 0, header);
    return Buffer.concat([h, Buffer.from(payload)]);
  };

  it('length-prefix - several frames per chunk and a frame split in its header', () => {
    const { framer, frames } = lengths();
    const bytes = Buffer.concat([frame('a=1'), frame('{"channel":"t","value":2}'), frame('b=3')]);
    framer.push(bytes.subarray(0, 6));
    framer.push(bytes.subarray(6, 1 + 2 + 3 + 2 + 25)); // ends one byte into the third header
    framer.push(bytes.subarray(1 + 2 + 3 + 2 + 25));
    expect(frames).toEqual(['a=1', '{"channel":"t","value":2}', 'b=3']);
  });

  it('length-prefix - little-endian four-byte headers', () => {
    const { framer, frames } = lengths({ lengthBytes: 4, endian: 'little' });
    framer.push(Buffer.concat([frame('hello', 4, 'little'), frame('x', 4, 'little')]));
    expect(frames).toEqual(['hello', 'x']);
  });

  it('length-prefix - an announced length over the maximum is skipped by its size and the next frame is read', () => {
    const { framer, frames, bad } = lengths({ max: 10 });
    const big = frame('z'.repeat(40));
    framer.push(big.subarray(0, 15));
    framer.push(Buffer.concat([big.subarray(15), frame('ok')]));
    expect(bad.map((b) => b.kind)).toEqual(['oversize']);
    expect(bad[0]?.detail).toContain('40 bytes');
    expect(frames).toEqual(['ok']);
  });

  it('length-prefix - a partial frame at disconnect says what was announced', () => {
    const { framer, bad } = lengths();
    framer.push(frame('0123456789').subarray(0, 6));
    framer.end();
    expect(bad).toEqual([{ kind: 'partial', detail: expect.stringContaining('10 announced, 6 bytes') }]);
  });

  it('length-prefix - encode writes the header; a one-byte header caps frames at 255 bytes', () => {
    const { framer } = lengths({ lengthBytes: 1, max: 4096 });
    expect([...framer.encode(Buffer.from('abc'))]).toEqual([3, 97, 98, 99]);
    expect(() => framer.encode(Buffer.alloc(256))).toThrow(/over maxFrameBytes 255/);
  });
});
