import { describe, expect, it } from 'vitest';
import { textFrame } from '../protocol/frame.js';
import { FrameBatch } from './frameBatch.js';

describe('ws transport - frame batch', () => {
  it('ws transport - (20) what a client was given early stays as it was when the batch outgrows its buffer, and the rest follows it byte for byte', async () => {
    const flushed: Buffer[] = [];
    const batch = new FrameBatch((whole) => flushed.push(Buffer.from(whole)));
    // 300 frames of 1 KB, and one of 100 KB: past the first buffer, and past twice the batch.
    const texts = Array.from({ length: 300 }, (_, i) => `${i}:${'é'.repeat(500)}`);
    texts.splice(150, 0, 'x'.repeat(100_000));
    const early: Buffer[] = [];
    let given = 0;
    for (const [i, text] of texts.entries()) {
      batch.add(text, 1);
      if (i % 40 === 0) {
        const part = batch.since(given) as Buffer;
        early.push(part);
        given = batch.bytes;
      }
    }
    const copies = early.map((part) => Buffer.from(part));
    const rest = batch.since(given) as Buffer;
    const expected = Buffer.concat(texts.map(textFrame));
    expect(Buffer.concat([...early, rest]).equals(expected)).toBe(true);
    // Flushed at the callback's end (a microtask), whole; the parts given early were not overwritten.
    await Promise.resolve();
    expect(flushed).toHaveLength(1);
    expect(flushed[0]?.equals(expected)).toBe(true);
    expect(early.every((part, i) => part.equals(copies[i] as Buffer))).toBe(true);
    expect(batch.bytes).toBe(0);
    expect(batch.since(0)).toBeUndefined();
  });

  it('ws transport - (20) the next batch starts after the last in the same buffer: what sockets still hold of it is left alone', async () => {
    const flushed: Buffer[] = [];
    const batch = new FrameBatch((whole) => flushed.push(whole));
    batch.add('first', 1);
    await Promise.resolve();
    const held = Buffer.from(flushed[0] as Buffer);
    batch.add('second', 1);
    await Promise.resolve();
    expect(flushed.map((b) => b.equals(textFrame(['first', 'second'][flushed.indexOf(b)] as string)))).toEqual([true, true]);
    expect(flushed[0]?.equals(held)).toBe(true);
    expect(flushed[1]?.buffer).toBe(flushed[0]?.buffer);
  });
});
