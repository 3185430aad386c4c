import { describe, expect, it } from 'vitest';
import { channelConfig, modbusConfig, type ChannelConfig } from './config.js';
import { decodeChannel, describeChannel, encodeChannel } from './values.js';

const ch = (spec: Record<string, unknown>): ChannelConfig => channelConfig.parse(spec);

describe('modbus - values', () => {
  it('decodes every type in every word and byte order', () => {
    // 0x43665000 is 230.3125 as a float32; 0xFFFFFFFE is -2 as int32.
    expect(decodeChannel(ch({ table: 'input', address: 0, type: 'float32' }), { words: [0x4366, 0x5000] })).toEqual({ ok: true, value: 230.3125 });
    expect(decodeChannel(ch({ table: 'input', address: 0, type: 'float32', wordOrder: 'little' }), { words: [0x5000, 0x4366] })).toEqual({ ok: true, value: 230.3125 });
    expect(decodeChannel(ch({ table: 'input', address: 0, type: 'float32', byteOrder: 'little' }), { words: [0x6643, 0x0050] })).toEqual({ ok: true, value: 230.3125 });
    expect(decodeChannel(ch({ table: 'input', address: 0, type: 'int32' }), { words: [0xffff, 0xfffe] })).toEqual({ ok: true, value: -2 });
    expect(decodeChannel(ch({ table: 'input', address: 0, type: 'uint32' }), { words: [0x0001, 0x0002] })).toEqual({ ok: true, value: 65538 });
    expect(decodeChannel(ch({ table: 'input', address: 0, type: 'int16' }), { words: [0xff9c] })).toEqual({ ok: true, value: -100 });
    expect(decodeChannel(ch({ table: 'input', address: 0, type: 'uint16', scale: 0.1, offset: -40 }), { words: [655] })).toEqual({ ok: true, value: 25.5 });
    expect(decodeChannel(ch({ table: 'holding', address: 0, type: 'bool', bit: 3 }), { words: [0b1000] })).toEqual({ ok: true, value: true });
    expect(decodeChannel(ch({ table: 'coil', address: 0 }), { bits: [true] })).toEqual({ ok: true, value: true });
    expect(decodeChannel(ch({ table: 'holding', address: 0, enum: { '0': 'off', '1': 'heat' } }), { words: [1] })).toEqual({ ok: true, value: 'heat' });
  });

  it('refuses what is no value: NaN, a raw value outside the enum, too few registers', () => {
    expect(decodeChannel(ch({ table: 'input', address: 0, type: 'float32' }), { words: [0x7fc0, 0] }).ok).toBe(false);
    expect(decodeChannel(ch({ table: 'holding', address: 0, enum: { '0': 'off' } }), { words: [7] })).toMatchObject({ ok: false, error: expect.stringContaining('7') });
    expect(decodeChannel(ch({ table: 'input', address: 0, type: 'uint32' }), { words: [1] })).toMatchObject({ ok: false, error: expect.stringContaining('1 of its 2') });
  });

  it('encodes writes back to the same words, and refuses values the registers cannot hold', () => {
    const temp = ch({ table: 'holding', address: 0, type: 'int16', scale: 0.5, writable: true });
    expect(encodeChannel(temp, -10.5)).toEqual({ ok: true, words: [0xffeb] });
    expect(encodeChannel(temp, 10.25)).toMatchObject({ ok: false, error: expect.stringContaining('multiple') });
    expect(encodeChannel(temp, 20_000)).toMatchObject({ ok: false, error: expect.stringContaining('does not fit') });
    expect(encodeChannel(temp, '3')).toMatchObject({ ok: false });
    const big = ch({ table: 'holding', address: 0, type: 'uint32', wordOrder: 'little', writable: true });
    expect(encodeChannel(big, 65538)).toEqual({ ok: true, words: [2, 1] });
    expect(encodeChannel(ch({ table: 'holding', address: 0, type: 'float32', writable: true }), 230.3125)).toEqual({ ok: true, words: [0x4366, 0x5000] });
    expect(encodeChannel(ch({ table: 'coil', address: 0, writable: true }), true)).toEqual({ ok: true, coil: true });
    expect(encodeChannel(ch({ table: 'coil', address: 0, writable: true }), 1)).toMatchObject({ ok: false });
    expect(encodeChannel(ch({ table: 'holding', address: 0, enum: { '0': 'off', '2': 'cool' }, writable: true }), 'cool')).toEqual({ ok: true, words: [2] });
  });

  it('describes each channel from its map entry', () => {
    expect(describeChannel(ch({ table: 'input', address: 0, type: 'float32', unit: 'V', class: 'voltage', stateClass: 'measurement', name: 'Voltage' }))).toEqual({
      kind: 'number', writable: false, unit: 'V', class: 'voltage', stateClass: 'measurement', name: 'Voltage',
    });
    expect(describeChannel(ch({ table: 'holding', address: 0, type: 'int16', scale: 0.5, writable: true }))).toEqual({ kind: 'number', writable: true, min: -16384, max: 16383.5, step: 0.5 });
    expect(describeChannel(ch({ table: 'coil', address: 0, writable: true, class: 'switch' }))).toEqual({ kind: 'boolean', writable: true, class: 'switch' });
    expect(describeChannel(ch({ table: 'holding', address: 0, enum: { '0': 'off', '1': 'heat' } }))).toEqual({ kind: 'enum', writable: false, options: ['off', 'heat'] });
  });
});

describe('modbus - config check', () => {
  const base = { connection: { type: 'tcp', port: 502 } };
  const problem = (channel: Record<string, unknown>) => {
    const result = modbusConfig.safeParse({ ...base, channels: { x: channel } });
    return result.success ? undefined : result.error.issues.map((i) => i.message).join('; ');
  };

  it('refuses writable input registers and discrete inputs, naming why', () => {
    expect(problem({ table: 'input', address: 0, writable: true })).toContain('read-only');
    expect(problem({ table: 'discrete', address: 0, writable: true })).toContain('read-only');
    expect(problem({ table: 'holding', address: 0, writable: true })).toBeUndefined();
    expect(problem({ table: 'coil', address: 0, writable: true })).toBeUndefined();
  });

  it('refuses maps that cannot be read as written', () => {
    expect(problem({ table: 'coil', address: 0, type: 'uint16' })).toContain('must be bool');
    expect(problem({ table: 'holding', address: 0, type: 'bool' })).toContain('needs `bit`');
    expect(problem({ table: 'holding', address: 65_535, type: 'float32' })).toContain('past address 65535');
    expect(problem({ table: 'holding', address: 0, type: 'float32', enum: { '1': 'a' } })).toContain('integer type');
    expect(problem({ table: 'holding', address: 0, type: 'bool', bit: 2, writable: true })).toContain('cannot be writable');
    expect(modbusConfig.safeParse({ ...base, channels: {} }).success).toBe(false);
  });
});
