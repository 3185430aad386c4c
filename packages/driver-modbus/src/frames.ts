/** Why bytes from the line were not used. */
export type BadInputKind = 'garbage' | 'crc' | 'wrongUnit' | 'short' | 'unmatched' | 'invalid';

/** The CRC-16 of Modbus RTU (polynomial 0xA001 reflected, initial 0xFFFF), sent low byte first. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

/** The reply an RTU request calls for. */
interface Expected {
  unit: number;
  fc: number;
  /** Whole frame length of a normal reply, CRC included. */
  length: number;
}

/** The full RTU length of the normal reply to `request` (an RTU frame, CRC included). */
export function expectedReply(request: Uint8Array): Expected | undefined {
  if (request.length < 6) return undefined;
  const unit = request[0] as number;
  const fc = request[1] as number;
  const quantity = ((request[4] as number) << 8) | (request[5] as number);
  if (fc === 1 || fc === 2) return { unit, fc, length: 5 + Math.ceil(quantity / 8) };
  if (fc === 3 || fc === 4) return { unit, fc, length: 5 + 2 * quantity };
  if (fc === 5 || fc === 6 || fc === 15 || fc === 16) return { unit, fc, length: 8 };
  return undefined;
}

/** Longest RTU frame (the spec's 256 bytes). */
const MAX_FRAME = 256;

/**
 * Cuts the byte stream of an RTU line into the reply to the one request in flight, and sorts
 * out what is not it: bytes that cannot start the reply (`garbage`), bytes with no request
 * waiting (`unmatched`), a frame whose CRC fails (`crc`), a reply from another slave
 * (`wrongUnit`) and a reply whose byte count is not what the request asked for (`short`).
 * A complete frame is handed on even when it is bad, so that modbus-serial fails the request
 * at once (naming why) instead of letting it run into its timeout.
 *
 * Frames are found by length (from the function code and byte count) rather than by the
 * 3.5-character silence of the spec: Node sees bytes in chunks, not their timing.
 */
export class RtuReceiver {
  private buffer: Buffer = Buffer.alloc(0);
  private expected: Expected | undefined;

  constructor(
    private readonly handlers: {
      frame(frame: Buffer): void;
      bad(kind: BadInputKind, detail: string): void;
    },
  ) {}

  /** A request went out: its reply is the next frame. Anything still buffered was not an answer to it. */
  expect(request: Uint8Array): void {
    this.drop('unmatched', 'left over from before the request (a late reply?)');
    this.expected = expectedReply(request);
  }

  /** The request was given up (timeout, link lost): what comes for it now is late. */
  forget(): void {
    this.expected = undefined;
    this.buffer = Buffer.alloc(0);
  }

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const expected = this.expected;
    if (expected === undefined) {
      this.drop('unmatched', 'while no request was waiting');
      return;
    }
    let skipped = 0;
    while (this.buffer.length >= 2) {
      const fc = this.buffer[1] as number;
      if (fc === expected.fc || fc === (expected.fc | 0x80)) {
        let length: number;
        if (fc & 0x80) length = 5;
        else if (fc <= 4) {
          if (this.buffer.length < 3) break;
          length = 5 + (this.buffer[2] as number);
        } else length = 8;
        if (this.buffer.length < length) break;
        const frame = Buffer.from(this.buffer.subarray(0, length));
        this.buffer = this.buffer.subarray(length);
        if (skipped > 0) this.handlers.bad('garbage', `${skipped} bytes before the reply that cannot start it`);
        this.classify(frame, expected);
        this.expected = undefined;
        this.handlers.frame(frame);
        this.drop('unmatched', 'after the reply');
        return;
      }
      this.buffer = this.buffer.subarray(1);
      skipped++;
    }
    if (skipped > 0) this.handlers.bad('garbage', `${skipped} bytes that cannot start a reply to function ${expected.fc} from unit ${expected.unit}`);
    if (this.buffer.length > MAX_FRAME) this.drop('garbage', `more than ${MAX_FRAME} bytes without a complete reply`);
  }

  private classify(frame: Buffer, expected: Expected): void {
    const crc = frame.readUInt16LE(frame.length - 2);
    if (crc !== crc16(frame.subarray(0, -2))) {
      this.handlers.bad('crc', `reply with CRC ${crc.toString(16).padStart(4, '0')}, computed ${crc16(frame.subarray(0, -2)).toString(16).padStart(4, '0')}`);
    } else if (frame[0] !== expected.unit) {
      this.handlers.bad('wrongUnit', `reply from unit ${frame[0]} to a request for unit ${expected.unit}`);
    } else if ((frame[1] as number) < 0x80 && frame.length !== expected.length) {
      this.handlers.bad('short', `reply of ${frame.length} bytes to function ${expected.fc}, ${expected.length} expected`);
    }
  }

  private drop(kind: BadInputKind, why: string): void {
    if (this.buffer.length > 0) this.handlers.bad(kind, `${this.buffer.length} bytes ${why}`);
    this.buffer = Buffer.alloc(0);
  }
}

/**
 * Modbus TCP framing: unwraps MBAP (transaction id, protocol 0, length, unit) into the RTU
 * frame modbus-serial parses, CRC added, and wraps RTU requests the other way. Only the reply
 * carrying the transaction id of the request in flight is used.
 */
export class MbapCodec {
  private buffer: Buffer = Buffer.alloc(0);
  private transactionId = 0;
  private waiting: number | undefined;

  constructor(
    private readonly rtu: RtuReceiver,
    private readonly bad: (kind: BadInputKind, detail: string) => void,
  ) {}

  /** The MBAP frame for an RTU request (its CRC dropped). */
  wrap(request: Uint8Array): Buffer {
    this.transactionId = (this.transactionId + 1) & 0xffff;
    this.waiting = this.transactionId;
    const pdu = request.subarray(0, -2);
    const header = Buffer.alloc(6);
    header.writeUInt16BE(this.transactionId, 0);
    header.writeUInt16BE(0, 2);
    header.writeUInt16BE(pdu.length, 4);
    this.rtu.expect(request);
    return Buffer.concat([header, pdu]);
  }

  forget(): void {
    this.waiting = undefined;
    this.buffer = Buffer.alloc(0);
    this.rtu.forget();
  }

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 7) {
      const id = this.buffer.readUInt16BE(0);
      const protocol = this.buffer.readUInt16BE(2);
      const length = this.buffer.readUInt16BE(4);
      if (protocol !== 0 || length < 2 || length > 254) {
        // The stream is out of step: nothing after this can be trusted to start a frame.
        this.bad('garbage', `${this.buffer.length} bytes that are not an MBAP frame (protocol ${protocol}, length ${length})`);
        this.buffer = Buffer.alloc(0);
        return;
      }
      if (this.buffer.length < 6 + length) return;
      const adu = this.buffer.subarray(6, 6 + length);
      this.buffer = this.buffer.subarray(6 + length);
      if (id !== this.waiting) {
        this.bad('unmatched', `reply with transaction id ${id} while ${this.waiting === undefined ? 'none' : this.waiting} was waiting`);
        continue;
      }
      this.waiting = undefined;
      const frame = Buffer.alloc(adu.length + 2);
      adu.copy(frame);
      frame.writeUInt16LE(crc16(adu), adu.length);
      this.rtu.push(frame);
    }
  }
}
