import { crc32Range } from './crc32.js';

// One record a line: `type<TAB>seq<TAB>body<TAB>crc\n` (format 2), where `crc` is the CRC-32
// of the UTF-8 bytes before its tab, as 8 lowercase hex digits. Format 1 (the previous
// version, `segment-NNNNNNNN.log`) is the same without the checksum; it is still read.

/** The on-disk formats: 1 without checksums (read only), 2 with a CRC-32 per record. */
export type SegmentFormat = 1 | 2;

/** A segment's file name: `segment-NNNNNNNN.v2.log`, or `segment-NNNNNNNN.log` in format 1. */
export function segmentName(index: number, format: SegmentFormat): string {
  return `segment-${String(index).padStart(8, '0')}${format === 2 ? '.v2' : ''}.log`;
}

const SEGMENT = /^segment-(\d{8})(\.v2)?\.log$/;

/** The index and format of a segment's file name (see {@link segmentName}), or undefined for any other file. */
export function parseSegmentName(name: string): { index: number; format: SegmentFormat } | undefined {
  const m = SEGMENT.exec(name);
  return m === null ? undefined : { index: Number(m[1]), format: m[2] === undefined ? 1 : 2 };
}

/** A line that passed its checksum, UTF-8 and number checks (the body is not parsed yet). */
export interface RawRecord {
  type: string;
  seq: number;
  body: string;
  /** Byte offset of the line in its file. */
  offset: number;
}

/** A line that did not, and why. */
export interface BadLine {
  offset: number;
  reason: 'checksum' | 'torn' | 'number' | 'utf8' | 'format';
  detail: string;
}

/** What ends every format-2 line until {@link sealRecords} writes the checksum into it. */
const PLACEHOLDER = '\t00000000\n';
const SUFFIX_BYTES = PLACEHOLDER.length;
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/**
 * `content` as a format-2 line, newline included, its checksum still to be filled in by
 * {@link sealRecords}: computing CRCs over the batch's bytes once it is encoded costs about a
 * third of doing it on each string (which encodes every record to UTF-8 twice).
 */
export function encodeRecord(content: string): string {
  return content + PLACEHOLDER;
}

/** The lines (each from {@link encodeRecord}) as bytes, with their checksums in place. */
export function sealRecords(lines: string): Buffer {
  const bytes = Buffer.from(lines, 'utf8');
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(0x0a, start);
    if (end === -1) break;
    const stop = end - SUFFIX_BYTES + 1;
    let crc = crc32Range(bytes, start, stop);
    for (let i = end - 1; i > stop; i--) {
      bytes[i] = HEX_DIGITS[crc & 15] as number;
      crc >>>= 4;
    }
    start = end + 1;
  }
  return bytes;
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const CRC_HEX = /^[0-9a-f]{8}$/;
const SEQ = /^(?:0|[1-9][0-9]{0,15})$/;

/** A sequence number: decimal digits only, no sign, no leading zero, a safe integer. */
export function parseSeq(text: string): number | undefined {
  if (!SEQ.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Splits a segment's bytes into records, checking each line on its own so that one bad line
 * costs that line only. A last line without its newline is `torn` (a write cut short).
 */
export function scanSegment(bytes: Buffer, format: SegmentFormat, { visit, bad }: { visit: (record: RawRecord) => void; bad: (line: BadLine) => void }): void {
  let start = 0;
  while (start < bytes.length) {
    const end = bytes.indexOf(0x0a, start);
    if (end === -1) {
      bad({ offset: start, reason: 'torn', detail: `the last ${bytes.length - start} bytes have no end of line (a write cut short)` });
      return;
    }
    const offset = start;
    start = end + 1;
    if (end === offset) continue;
    let contentEnd = end;
    if (format === 2) {
      const tab = bytes.lastIndexOf(0x09, end - 1);
      if (tab < offset) {
        bad({ offset, reason: 'checksum', detail: 'no checksum' });
        continue;
      }
      const hex = bytes.toString('latin1', tab + 1, end);
      if (!CRC_HEX.test(hex) || crc32Range(bytes, offset, tab) !== Number.parseInt(hex, 16)) {
        bad({ offset, reason: 'checksum', detail: 'checksum mismatch' });
        continue;
      }
      contentEnd = tab;
    }
    let text: string;
    try {
      text = decoder.decode(bytes.subarray(offset, contentEnd));
    } catch {
      bad({ offset, reason: 'utf8', detail: 'invalid UTF-8' });
      continue;
    }
    const tab1 = text.indexOf('\t');
    if (tab1 <= 0) {
      bad({ offset, reason: 'format', detail: 'no record type' });
      continue;
    }
    const tab2 = text.indexOf('\t', tab1 + 1);
    const seqText = tab2 === -1 ? text.slice(tab1 + 1) : text.slice(tab1 + 1, tab2);
    const seq = parseSeq(seqText);
    if (seq === undefined) {
      bad({ offset, reason: 'number', detail: `sequence number ${JSON.stringify(seqText.slice(0, 24))} is not a number` });
      continue;
    }
    visit({ type: text.slice(0, tab1), seq, body: tab2 === -1 ? '' : text.slice(tab2 + 1), offset });
  }
}
