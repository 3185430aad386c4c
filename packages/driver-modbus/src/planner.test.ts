import { describe, expect, it } from 'vitest';
import { channelConfig, modbusConfig, type ChannelConfig } from './config.js';
import { planReads, specLimits } from './planner.js';

const ch = (spec: Record<string, unknown>): ChannelConfig => channelConfig.parse(spec);
const summary = (plan: ReturnType<typeof planReads>) => plan.map((r) => `${r.table}@${r.address}+${r.count}:${r.channels.map((c) => `${c.name}[${c.index}]`).join(',')}`);

describe('modbus - read planner', () => {
  it('merges contiguous registers of one table into one read, and keeps the tables apart', () => {
    const plan = planReads({
      a: ch({ table: 'holding', address: 0 }),
      b: ch({ table: 'holding', address: 1, type: 'float32' }),
      c: ch({ table: 'holding', address: 3 }),
      d: ch({ table: 'input', address: 3 }),
      e: ch({ table: 'coil', address: 7 }),
      f: ch({ table: 'coil', address: 8 }),
    });
    expect(summary(plan)).toEqual(['coil@7+2:e[0],f[1]', 'input@3+1:d[0]', 'holding@0+4:a[0],b[1],c[3]']);
  });

  it('splits at a gap unless the gap is within maxGap, then reads through it', () => {
    const channels = { a: ch({ table: 'input', address: 10 }), b: ch({ table: 'input', address: 14, type: 'uint32' }) };
    expect(summary(planReads(channels))).toEqual(['input@10+1:a[0]', 'input@14+2:b[0]']);
    expect(summary(planReads(channels, { ...specLimits, maxGap: { registers: 2, bits: 0 } }))).toEqual(['input@10+1:a[0]', 'input@14+2:b[0]']);
    expect(summary(planReads(channels, { ...specLimits, maxGap: { registers: 3, bits: 0 } }))).toEqual(['input@10+6:a[0],b[4]']);
  });

  it('never exceeds 125 registers or 2000 bits per read, and never cuts a 32-bit value', () => {
    const channels: Record<string, ChannelConfig> = {};
    for (let i = 0; i < 100; i++) channels[`f${i}`] = ch({ table: 'input', address: i * 2, type: 'float32' });
    for (let i = 0; i < 2500; i++) channels[`c${i}`] = ch({ table: 'discrete', address: i });
    const plan = planReads(channels);
    const input = plan.filter((r) => r.table === 'input');
    expect(input.map((r) => [r.address, r.count])).toEqual([
      [0, 124],
      [124, 76],
    ]);
    expect(plan.filter((r) => r.table === 'discrete').map((r) => [r.address, r.count])).toEqual([
      [0, 2000],
      [2000, 500],
    ]);
    for (const request of plan) for (const c of request.channels) expect(c.index + (c.channel.type === 'float32' ? 2 : 1)).toBeLessThanOrEqual(request.count);
  });

  it('lets channels share a register (bits of one status word) and honours a lower per-read limit', () => {
    const plan = planReads(
      {
        run: ch({ table: 'holding', address: 5, type: 'bool', bit: 0 }),
        fault: ch({ table: 'holding', address: 5, type: 'bool', bit: 3 }),
        speed: ch({ table: 'holding', address: 6 }),
        temp: ch({ table: 'holding', address: 7 }),
      },
      { ...specLimits, maxRegisters: 2 },
    );
    expect(summary(plan)).toEqual(['holding@5+2:fault[0],run[0],speed[1]', 'holding@7+1:temp[0]']);
  });
});

describe('modbus - the README worked example (Eastron SDM120)', () => {
  it('plans the SDM120 map into 3 reads of at most 30 parameters (the meter refuses more)', () => {
    const f = (address: number) => ({ table: 'input', address, type: 'float32' });
    const config = modbusConfig.parse({
      connection: { type: 'rtu', path: '/dev/ttyUSB0', baudRate: 2400 },
      maxGap: { registers: 6 },
      channels: { voltage: f(0x00), current: f(0x06), power: f(0x0c), apparent_power: f(0x12), reactive_power: f(0x18), power_factor: f(0x1e), frequency: f(0x46), import_energy: f(0x48), export_energy: f(0x4a), total_energy: f(0x156) },
    });
    const plan = planReads(config.channels, { maxRegisters: config.maxRegistersPerRead, maxBits: config.maxBitsPerRead, maxGap: config.maxGap });
    expect(plan.map((r) => [r.address, r.count])).toEqual([
      [0x00, 0x20],
      [0x46, 6],
      [0x156, 2],
    ]);
    for (const request of plan) expect(request.count / 2).toBeLessThanOrEqual(30);
  });
});
