import { describe, expect, it } from 'vitest';
import { LineSplitter, type LargeLine } from './framing.js';
import { COPY_BLOCK, KEEP_AT } from './largeLine.js';

/** A read as a socket gives it: a buffer of its own (not a pool slice). */
function read(text: string): Buffer {
  const chunk = Buffer.allocUnsafeSlow(text.length);
  chunk.write(text, 'latin1');
  return chunk;
}
const fill = (bytes: number, char: string) => read(char.repeat(bytes));

describe('comodojo - a large line is gathered without copying its reads (13.8)', () => {
  it('framing - large reads are kept as they came, not copied; the bytes are the line exactly', () => {
    const splitter = new LineSplitter(10 * 1024 * 1024, 1024);
    const reads = [fill(64 * 1024, 'a'), fill(64 * 1024, 'b'), read(`${'c'.repeat(64 * 1024)}\r\n`)];
    const [first, second] = reads;
    expect(splitter.push(first as Buffer)).toEqual([]);
    expect(splitter.push(second as Buffer)).toEqual([]);
    const [line] = splitter.push(reads[2] as Buffer) as LargeLine[];
    const { blocks, length } = line as LargeLine;
    expect(length).toBe(3 * 64 * 1024 + 1);
    expect(Buffer.concat(blocks).toString('latin1')).toBe(`${'a'.repeat(64 * 1024)}${'b'.repeat(64 * 1024)}${'c'.repeat(64 * 1024)}\r`);
    // The same memory as the reads (what moves to the worker is the read itself): no copy was made.
    expect(blocks.map((block) => block.buffer)).toEqual(reads.map((chunk) => chunk.buffer));
  });

  it('framing - a read that holds the next line is copied, so the next line survives the large one moving away', () => {
    const splitter = new LineSplitter(10 * 1024 * 1024, 1024);
    const head = fill(64 * 1024, 'a');
    const tail = read(`${'b'.repeat(32 * 1024)}\nsmall`);
    splitter.push(head);
    const [line] = splitter.push(tail) as LargeLine[];
    const { blocks } = line as LargeLine;
    expect(blocks[0]?.buffer).toBe(head.buffer);
    expect(blocks.slice(1).some((block) => block.buffer === tail.buffer)).toBe(false);
    expect(splitter.push(read('\n'))).toEqual(['small']);
  });

  it('framing - a trickle of small reads is copied into blocks, at most twice the bytes it holds', () => {
    const splitter = new LineSplitter(10 * 1024 * 1024, 1024);
    const reads: Buffer[] = [];
    // Small reads between large ones: each run of small ones closes a block early.
    for (let i = 0; i < 20; i++) reads.push(fill(100, 's'), fill(KEEP_AT, 'L'));
    for (const chunk of reads) expect(splitter.push(chunk)).toEqual([]);
    const [line] = splitter.push(read('\n')) as LargeLine[];
    const { blocks, length } = line as LargeLine;
    expect(Buffer.concat(blocks).equals(Buffer.concat(reads))).toBe(true);
    const held = new Set(blocks.map((block) => block.buffer)).values();
    const heldBytes = [...held].reduce((sum, buffer) => sum + buffer.byteLength, 0);
    expect(heldBytes).toBeLessThanOrEqual(2 * length + COPY_BLOCK);
  });
});
