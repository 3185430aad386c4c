import { describe, expect, it } from 'vitest';
import { COPY_BLOCK } from './largeLine.js';
import { decodeRequest, decodeRequestSliced, decodeResponse, encodeFrame, encodeResponse, GREETER, LineSplitter, type LargeLine } from './framing.js';

describe('framing', () => {
  it('framing - the greeter decodes to {status: connected, version: 1.0}', () => {
    expect(decodeResponse(GREETER.trim())).toBeTruthy();
    expect(Buffer.from(GREETER.trim(), 'base64').toString()).toBe('a:2:{s:6:"status";s:9:"connected";s:7:"version";s:3:"1.0";}');
  });

  it('framing - the spec examples encode byte-exact (§1.6, §1.7)', () => {
    expect(encodeFrame({ content_type: 'application/json', message: '{"jsonrpc":"2.0","method":"system.listMethods","params":[],"id":1}' })).toBe(
      'YToyOntzOjEyOiJjb250ZW50X3R5cGUiO3M6MTY6ImFwcGxpY2F0aW9uL2pzb24iO3M6NzoibWVzc2FnZSI7czo2NjoieyJqc29ucnBjIjoiMi4wIiwibWV0aG9kIjoic3lzdGVtLmxpc3RNZXRob2RzIiwicGFyYW1zIjpbXSwiaWQiOjF9Ijt9\r\n',
    );
    expect(encodeResponse({ status: true, message: null })).toBe('YToyOntzOjY6InN0YXR1cyI7YjoxO3M6NzoibWVzc2FnZSI7Tjt9\r\n');
    expect(encodeResponse({ status: true, message: '{"jsonrpc":"2.0","result":"hi","id":1}' })).toBe(
      'YToyOntzOjY6InN0YXR1cyI7YjoxO3M6NzoibWVzc2FnZSI7czozODoieyJqc29ucnBjIjoiMi4wIiwicmVzdWx0IjoiaGkiLCJpZCI6MX0iO30=\r\n',
    );
  });

  it('framing - decodeRequest ignores unknown keys and tolerates a missing content_type', () => {
    const line = encodeFrame({ extra: 'x', message: 'm' }).trim();
    expect(decodeRequest(line)).toEqual({ contentType: undefined, message: Buffer.from('m') });
    expect(() => decodeRequest('abc')).toThrow(/not base64/);
    expect(() => decodeRequest(Buffer.from('s:1:"a";').toString('base64'))).toThrow(/not hold a PHP array/);
  });

  it('framing - a large line is decoded in pieces to the same bytes, and bad base64 in any piece is refused', async () => {
    const message = Buffer.alloc(3 * 1024 * 1024 + 5, 0xe9).toString('latin1');
    const line = encodeFrame({ content_type: 'text/xml', message }).trim();
    const frame = await decodeRequestSliced(line);
    expect(frame.contentType).toBe('text/xml');
    expect(frame.message.equals(Buffer.from(message, 'utf8'))).toBe(true);
    const broken = line.slice(0, 1024 * 1024) + '%' + line.slice(1024 * 1024 + 1);
    await expect(decodeRequestSliced(broken)).rejects.toThrow(/not base64/);
    const padded = line.slice(0, 1024 * 1024 - 1) + '=' + line.slice(1024 * 1024);
    await expect(decodeRequestSliced(padded)).rejects.toThrow(/not base64/);
  });

  it('framing - splits on LF across chunks and several per chunk, trimming CR and spaces', () => {
    const splitter = new LineSplitter(100);
    expect(splitter.push(Buffer.from('ab'))).toEqual([]);
    expect(splitter.buffered).toBe(2);
    expect(splitter.push(Buffer.from('c\r\nde\n \r\nf'))).toEqual(['abc', 'de', '']);
    expect(splitter.push(Buffer.from('g\n'))).toEqual(['fg']);
    expect(splitter.buffered).toBe(0);
  });

  it('framing - unterminated input past the limit is refused, whole or split', () => {
    expect(() => new LineSplitter(10).push(Buffer.alloc(11, 0x41))).toThrow(/longer than 10 bytes/);
    const splitter = new LineSplitter(10);
    splitter.push(Buffer.alloc(6, 0x41));
    expect(() => splitter.push(Buffer.alloc(6, 0x41))).toThrow(/longer than 10 bytes/);
    expect(() => new LineSplitter(10).push(Buffer.from('A'.repeat(12) + '\n'))).toThrow(/longer than 10 bytes/);
  });

  it('framing - lines of largeAt bytes or more come out raw, in blocks of their own, across chunks; a large blank one is still blank', () => {
    const splitter = new LineSplitter(100, 8);
    expect(splitter.push(Buffer.from('short\r\n0123'))).toEqual(['short']);
    expect(splitter.push(Buffer.from('4567'))).toEqual([]);
    expect(splitter.buffered).toBe(8);
    const [large, next] = splitter.push(Buffer.from('89\r\nab\n'));
    const { blocks, length } = large as LargeLine;
    expect([Buffer.concat(blocks).toString('latin1'), length]).toEqual(['0123456789\r', 11]);
    // Small reads are copied into blocks of their own (unpooled, transferable).
    expect(blocks.every((block) => block.byteOffset === 0 && (block.buffer.byteLength === block.length || block.buffer.byteLength === COPY_BLOCK))).toBe(true);
    expect(next).toBe('ab');
    const big = new LineSplitter(3 * 1024 * 1024, 8);
    const text = Buffer.alloc(2.5 * 1024 * 1024, 0x42);
    const [split] = big.push(Buffer.concat([text, Buffer.from('\n')]));
    expect(Buffer.concat((split as LargeLine).blocks).equals(text)).toBe(true);
    expect(splitter.push(Buffer.from(' \t\r\xa0   \r\n', 'latin1'))).toEqual(['']);
    expect(() => splitter.push(Buffer.alloc(101, 0x41))).toThrow(/longer than 100 bytes/);
  });
});
