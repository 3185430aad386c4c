/** Why bytes from the meter were not used. */
export type BadInputKind = 'checksum' | 'cut' | 'garbage' | 'oversize';

/** One information group of a frame. */
export interface Group {
  label: string;
  value: string;
  /** Standard mode: the group's date (SAAMMJJhhmmss), when it has one. */
  date?: string;
}

/**
 * How the checksum is summed (Enedis-NOI-CPT_54E describes both): `1` from the label to the
 * end of the value, the separator before the checksum excluded (the historic mode's), `2`
 * with that separator included (the standard mode's).
 */
export type ChecksumMode = 1 | 2;

const STX = 0x02;
const ETX = 0x03;
const EOT = 0x04;
const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;

/** The checksum character of the bytes of a group: (sum & 0x3F) + 0x20. */
export function checksumOf(bytes: Uint8Array): number {
  let sum = 0;
  for (const byte of bytes) sum += byte;
  return (sum & 0x3f) + 0x20;
}

/** Options of a {@link TeleinfoDecoder}. */
export interface DecoderOptions {
  mode: 'historic' | 'standard';
  checksum: ChecksumMode;
  /** Longest frame accepted (a real one is under 1 kB). */
  maxFrameBytes?: number;
  frame(groups: Group[]): void;
  bad(kind: BadInputKind, detail: string): void;
}

/**
 * Cuts the meter's byte stream into frames (STX .. ETX) and groups (LF .. CR), verifying
 * every group's checksum. A frame cut short (a new STX before its ETX, an EOT, the line
 * closing) is dropped whole and counted; so is a group whose checksum fails (the rest of its
 * frame is kept, as the specification has the receiver do); bytes that cannot be Teleinfo
 * (outside the 7-bit printable set, or a malformed group) are garbage. Bytes before the first
 * STX after opening are the tail of a frame the line joined mid-way: dropped, not counted.
 */
export class TeleinfoDecoder {
  private frame: number[] | undefined;
  private started = false;
  private outside = 0;
  private readonly separator: number;
  private readonly maxFrameBytes: number;

  constructor(private readonly options: DecoderOptions) {
    this.separator = options.mode === 'historic' ? SP : HT;
    this.maxFrameBytes = options.maxFrameBytes ?? 4096;
  }

  push(chunk: Uint8Array): void {
    for (const byte of chunk) {
      if (byte === STX) {
        if (this.frame !== undefined) this.options.bad('cut', `a frame of ${this.frame.length} bytes cut by the next frame's start`);
        this.noteOutside();
        this.frame = [];
        this.started = true;
        continue;
      }
      if (this.frame === undefined) {
        if (this.started) this.outside++;
        continue;
      }
      if (byte === EOT) {
        this.options.bad('cut', `a frame of ${this.frame.length} bytes interrupted by the meter (EOT)`);
        this.frame = undefined;
        continue;
      }
      if (byte === ETX) {
        const frame = this.frame;
        this.frame = undefined;
        this.finish(frame);
        continue;
      }
      this.frame.push(byte);
      if (this.frame.length > this.maxFrameBytes) {
        this.options.bad('oversize', `a frame longer than ${this.maxFrameBytes} bytes without its end`);
        this.frame = undefined;
      }
    }
  }

  /** The line closed: a frame in progress is cut. */
  end(): void {
    if (this.frame !== undefined && this.frame.length > 0) this.options.bad('cut', `a frame of ${this.frame.length} bytes cut by the line closing`);
    this.frame = undefined;
    this.started = false;
    this.outside = 0;
  }

  private noteOutside(): void {
    if (this.outside > 0) this.options.bad('garbage', `${this.outside} bytes between frames`);
    this.outside = 0;
  }

  private finish(bytes: number[]): void {
    const groups: Group[] = [];
    let i = 0;
    let garbage = 0;
    let checksums = 0;
    while (i < bytes.length) {
      if (bytes[i] !== LF) {
        garbage++;
        i = nextIndex(bytes, LF, i + 1);
        continue;
      }
      const end = nextIndex(bytes, CR, i + 1);
      if (end >= bytes.length) {
        garbage++;
        break;
      }
      const group = this.group(bytes.slice(i + 1, end));
      if (group === 'garbage') garbage++;
      else if (group === 'checksum') checksums++;
      else groups.push(group);
      i = end + 1;
    }
    if (garbage > 0) this.options.bad('garbage', `${garbage} malformed groups in a frame (not Teleinfo ${this.options.mode} mode: wrong baud rate or parity?)`);
    if (checksums > 0) this.options.bad('checksum', `${checksums} groups with a wrong checksum`);
    if (groups.length > 0) this.options.frame(groups);
  }

  /** One group, LF and CR stripped: label SEP [date SEP] value SEP checksum. */
  private group(body: number[]): Group | 'garbage' | 'checksum' {
    if (body.length < 4) return 'garbage';
    for (const byte of body) if (byte !== this.separator && (byte < 0x20 || byte > 0x7e)) return 'garbage';
    const checksum = body[body.length - 1] as number;
    if (body[body.length - 2] !== this.separator) return 'garbage';
    const covered = Uint8Array.from(this.options.checksum === 2 ? body.slice(0, -1) : body.slice(0, -2));
    const text = String.fromCharCode(...body.slice(0, -2));
    const fields = text.split(String.fromCharCode(this.separator));
    const label = fields[0] ?? '';
    if (!/^[A-Z0-9][A-Z0-9+-]*$/.test(label)) return 'garbage';
    if (checksumOf(covered) !== checksum) return 'checksum';
    if (this.options.mode === 'historic') {
      // The historic value may itself hold no separator.
      return fields.length === 2 ? { label, value: fields[1] ?? '' } : 'garbage';
    }
    if (fields.length === 2) return { label, value: fields[1] ?? '' };
    if (fields.length === 3 && /^[EeHh ]\d{12}$/.test(fields[1] ?? '')) return { label, date: fields[1], value: fields[2] ?? '' };
    return 'garbage';
  }
}

function nextIndex(bytes: number[], value: number, from: number): number {
  for (let i = from; i < bytes.length; i++) if (bytes[i] === value) return i;
  return bytes.length;
}
