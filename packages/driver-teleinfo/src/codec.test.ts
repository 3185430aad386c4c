import { describe, expect, it } from 'vitest';
import { checksumOf, TeleinfoDecoder, type BadInputKind, type Group } from './codec.js';

const ascii = (text: string): number[] => [...Buffer.from(text, 'latin1')];
const historic = (label: string, value: string, bad = false): number[] => {
  const body = ascii(`${label} ${value}`);
  return [0x0a, ...body, 0x20, checksumOf(Uint8Array.from(body)) ^ (bad ? 1 : 0), 0x0d];
};
const standard = (label: string, value: string, date?: string): number[] => {
  const body = ascii(date === undefined ? `${label}\t${value}\t` : `${label}\t${date}\t${value}\t`);
  return [0x0a, ...body, checksumOf(Uint8Array.from(body)), 0x0d];
};
const frame = (...groups: number[][]): Buffer => Buffer.from([0x02, ...groups.flat(), 0x03]);

function decoder(mode: 'historic' | 'standard', checksum: 1 | 2 = mode === 'historic' ? 1 : 2) {
  const frames: Group[][] = [];
  const bad: BadInputKind[] = [];
  const d = new TeleinfoDecoder({ mode, checksum, frame: (g) => frames.push(g), bad: (k) => bad.push(k) });
  return { d, frames, bad };
}

describe('teleinfo - decoder', () => {
  it('reads a historic frame split anywhere, the tail of a joined frame dropped silently', () => {
    const { d, frames, bad } = decoder('historic');
    const bytes = Buffer.concat([Buffer.from('P 01800 *\r', 'latin1'), Buffer.from([0x03]), frame(historic('ADCO', '031762120162'), historic('PAPP', '01800'))]);
    for (let i = 0; i < bytes.length; i += 3) d.push(bytes.subarray(i, i + 3));
    expect(frames).toEqual([
      [
        { label: 'ADCO', value: '031762120162' },
        { label: 'PAPP', value: '01800' },
      ],
    ]);
    expect(bad).toEqual([]);
  });

  it('drops a group whose checksum fails and keeps the rest of its frame', () => {
    const { d, frames, bad } = decoder('historic');
    d.push(frame(historic('ADCO', '031762120162'), historic('PAPP', '09999', true), historic('IINST', '008')));
    expect(frames).toEqual([
      [
        { label: 'ADCO', value: '031762120162' },
        { label: 'IINST', value: '008' },
      ],
    ]);
    expect(bad).toEqual(['checksum']);
  });

  it('drops a frame cut by the next STX or by EOT, and one left open when the line closes', () => {
    const { d, frames, bad } = decoder('historic');
    d.push(Buffer.from([0x02, ...historic('PAPP', '01800'), 0x02, ...historic('PAPP', '01900'), 0x04]));
    d.push(Buffer.from([0x02, ...historic('PAPP', '02000')]));
    d.end();
    expect(frames).toEqual([]);
    expect(bad).toEqual(['cut', 'cut', 'cut']);
  });

  it('reads standard groups with and without a date, with checksum mode 2 (and mode 1 when told)', () => {
    const { d, frames, bad } = decoder('standard');
    d.push(frame(standard('ADSC', '041876097143'), standard('DATE', '', 'E231202101500'), standard('SMAXSN', '02580', 'E231202063200'), standard('MSG1', 'PAS DE  MESSAGE ')));
    expect(frames[0]).toEqual([
      { label: 'ADSC', value: '041876097143' },
      { label: 'DATE', date: 'E231202101500', value: '' },
      { label: 'SMAXSN', date: 'E231202063200', value: '02580' },
      { label: 'MSG1', value: 'PAS DE  MESSAGE ' },
    ]);
    expect(bad).toEqual([]);
    // The same bytes read with checksum mode 1 all fail: the modes are not interchangeable.
    const one = decoder('standard', 1);
    one.d.push(frame(standard('ADSC', '041876097143')));
    expect(one.bad).toEqual(['checksum']);
    const body = ascii('EAST\t008101940');
    const modeOne = decoder('standard', 1);
    modeOne.d.push(Buffer.from([0x02, 0x0a, ...body, 0x09, checksumOf(Uint8Array.from(body)), 0x0d, 0x03]));
    expect(modeOne.frames).toEqual([[{ label: 'EAST', value: '008101940' }]]);
  });

  it('calls bytes with the eighth bit set or no group structure garbage, never values', () => {
    const { d, frames, bad } = decoder('historic');
    const good = frame(historic('PAPP', '01800'));
    d.push(good.map((b) => b | 0x80).map((b, i) => (i === 0 || i === good.length - 1 ? b & 0x7f : b)));
    d.push(frame([0x41, 0x42, 0x0d]));
    expect(frames).toEqual([]);
    expect(bad).toEqual(['garbage', 'garbage']);
  });
});
