import { describe, expect, it } from 'vitest';
import { crc16, MbapCodec, RtuReceiver, type BadInputKind } from './frames.js';

const withCrc = (bytes: number[]): Buffer => {
  const body = Buffer.from(bytes);
  const crc = Buffer.alloc(2);
  crc.writeUInt16LE(crc16(body));
  return Buffer.concat([body, crc]);
};

function receiver() {
  const frames: Buffer[] = [];
  const bad: [BadInputKind, string][] = [];
  const rtu = new RtuReceiver({ frame: (f) => frames.push(f), bad: (kind, detail) => bad.push([kind, detail]) });
  return { rtu, frames, bad };
}

// Read 2 holding registers at 0 from unit 1.
const request = withCrc([1, 3, 0, 0, 0, 2]);
const reply = withCrc([1, 3, 4, 0, 1, 0, 2]);

describe('modbus - RTU framing', () => {
  it('computes the Modbus CRC (the spec example: 01 03 00 00 00 0A -> C5 CD)', () => {
    expect(withCrc([1, 3, 0, 0, 0, 10]).subarray(-2)).toEqual(Buffer.from([0xc5, 0xcd]));
  });

  it('passes a reply on however it is chunked, and reports nothing', () => {
    const { rtu, frames, bad } = receiver();
    rtu.expect(request);
    for (const byte of reply) rtu.push(Buffer.from([byte]));
    expect(frames).toEqual([reply]);
    expect(bad).toEqual([]);
  });

  it('sorts out garbage before the reply, bad CRC, the wrong unit and a short reply', () => {
    const cases: [Buffer, BadInputKind[]][] = [
      [Buffer.concat([Buffer.from([0xff, 0x00, 0x55]), reply]), ['garbage']],
      [Buffer.concat([reply.subarray(0, -1), Buffer.from([reply.at(-1)! ^ 0xff])]), ['crc']],
      [withCrc([2, 3, 4, 0, 1, 0, 2]), ['wrongUnit']],
      [withCrc([1, 3, 2, 0, 1]), ['short']],
    ];
    for (const [bytes, kinds] of cases) {
      const { rtu, frames, bad } = receiver();
      rtu.expect(request);
      rtu.push(bytes);
      expect(bad.map(([kind]) => kind)).toEqual(kinds);
      // The frame still goes on so modbus-serial fails the request at once (its own checks refuse it).
      expect(frames).toHaveLength(1);
    }
  });

  it('counts bytes with no request waiting as unmatched, and an exception reply as a frame', () => {
    const { rtu, frames, bad } = receiver();
    rtu.push(reply);
    expect(bad.map(([k]) => k)).toEqual(['unmatched']);
    rtu.expect(request);
    rtu.push(withCrc([1, 0x83, 2]));
    expect(frames).toEqual([withCrc([1, 0x83, 2])]);
  });
});

describe('modbus - MBAP framing', () => {
  it('wraps a request, unwraps the reply with its transaction id, and drops others', () => {
    const frames: Buffer[] = [];
    const bad: BadInputKind[] = [];
    const rtu = new RtuReceiver({ frame: (f) => frames.push(f), bad: (k) => bad.push(k) });
    const mbap = new MbapCodec(rtu, (k) => bad.push(k));
    const wrapped = mbap.wrap(request);
    expect(wrapped).toEqual(Buffer.from([0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2]));
    mbap.push(Buffer.from([0, 9, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 2]));
    expect(bad).toEqual(['unmatched']);
    mbap.push(Buffer.from([0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 1]));
    mbap.push(Buffer.from([0, 2]));
    expect(frames).toEqual([reply]);
    mbap.push(Buffer.from([0, 1, 0, 9, 0, 7, 1]));
    expect(bad).toEqual(['unmatched', 'garbage']);
  });
});
