import { PtyPair } from '@patchbay/testing';
import { createGateway, type Counter, type DeviceDescription, type MetricsSink, type OutboundEvent } from '@patchbay/core';
import { captureLogger, FakeHost } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import teleinfoDriver from '../src/index.js';
import { TeleinfoGenerator } from './generator.js';

/** Counts in memory, read back by name. */
class MemoryMetrics implements MetricsSink {
  readonly values = new Map<string, number>();
  counter(name: string): Counter {
    if (!this.values.has(name)) this.values.set(name, 0);
    return { inc: (amount = 1) => this.values.set(name, (this.values.get(name) ?? 0) + amount) };
  }
  get(name: string): number {
    return this.values.get(name) ?? 0;
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function rig(mode: 'historic' | 'standard', options: Record<string, unknown> = {}) {
  const pair = await PtyPair.open('patchbay-teleinfo-');
  cleanups.push(() => pair.close());
  const generator = await TeleinfoGenerator.start(pair.b, mode);
  cleanups.push(() => generator.stop());
  const host = new FakeHost();
  const metrics = new MemoryMetrics();
  const logger = captureLogger();
  const gateway = createGateway({
    devices: [{ id: 'meter', definition: teleinfoDriver, options: { path: pair.a, mode, ...options } }],
    hosts: [{ id: 'h1', definition: host.definition }],
    metrics,
    logger,
  });
  await gateway.start();
  cleanups.push(() => gateway.stop({ drainTimeoutMs: 500 }));
  await host.waitFor((e) => e.kind === 'status' && e.endpoint === 'meter' && e.status === 'alive', { what: 'meter alive' });
  const state = (channel: string, value: unknown, after = 0): Promise<OutboundEvent> =>
    host.waitFor((e) => host.delivered.indexOf(e) >= after && e.kind === 'state' && e.channel === channel && e.value === value, { what: `${channel} = ${JSON.stringify(value)}`, timeoutMs: 15_000 });
  const values = (channel: string): unknown[] => host.delivered.flatMap((e) => (e.kind === 'state' && e.channel === channel ? [e.value] : []));
  // The description every host was given last, once it lists `count` channels.
  const description = async (count: number): Promise<DeviceDescription> => {
    const event = await host.waitFor((e) => e.kind === 'description' && e.device === 'meter' && Object.keys(e.description.channels).length === count, { what: `a description of ${count} labels`, timeoutMs: 10_000 });
    return (event as Extract<OutboundEvent, { kind: 'description' }>).description;
  };
  return { generator, host, metrics, logger, gateway, state, values, description };
}

describe('teleinfo - acceptance 2 against the frame generator', () => {
  it('teleinfo - historic mode at 1200 baud 7E1: every label a described channel; bad checksums, cut frames and a wrong line dropped and counted', { timeout: 90_000 }, async () => {
    const r = await rig('historic');
    await r.generator.frames({ count: 2 });
    const labels = ['ADCO', 'OPTARIF', 'ISOUSC', 'HCHC', 'HCHP', 'PTEC', 'IINST', 'IMAX', 'PAPP', 'HHPHC', 'MOTDETAT'];
    await r.state('PAPP', 1800);
    expect(r.values('HCHC')).toEqual([2_815_440]);
    expect(r.values('PTEC')).toEqual(['HP..']);
    expect(r.values('ADCO')).toEqual(['031762120162']);
    for (const label of labels) expect(r.values(label), label).toHaveLength(1);
    const description = await r.description(labels.length);
    expect(description.name).toContain('031762120162');
    expect(description.channels.HCHC).toMatchObject({ kind: 'number', unit: 'Wh', class: 'energy', stateClass: 'total_increasing', writable: false });
    expect(description.channels.PAPP).toMatchObject({ kind: 'number', unit: 'VA', class: 'apparent_power' });
    expect(description.channels.IINST).toMatchObject({ kind: 'number', unit: 'A', class: 'current' });
    expect(description.channels.PTEC).toMatchObject({ kind: 'text', class: 'tariff' });

    // A corrupted checksum: that group is dropped; the next good frame's value comes through.
    await r.generator.frames({ corrupt: 'checksum', label: 'PAPP', set: { PAPP: '09999' } });
    await r.generator.frames({ set: { PAPP: '01234' } });
    await r.state('PAPP', 1234);
    // A frame cut mid-way is discarded whole.
    await r.generator.frames({ corrupt: 'cut', set: { HCHP: '003571999' } });
    await r.generator.frames({ set: { HCHP: '003572000' } });
    await r.state('HCHP', 3_572_000);
    // The same line read with the wrong parity (8N1) and the wrong speed (9600): garbage, no values.
    const garbageBefore = r.metrics.get('patchbay_teleinfo_garbage_total');
    await r.generator.frames({ as_read: '8N1', set: { PAPP: '05555', IINST: '025' } });
    await r.generator.frames({ as_read: '9600' });
    await r.generator.frames({ set: { PAPP: '01300', IINST: '006' } });
    await r.state('PAPP', 1300);
    expect(r.values('PAPP')).toEqual([1800, 1234, 1300]);
    expect(r.values('IINST')).toEqual([8, 6]);
    expect(r.values('HCHP')).toEqual([3_571_120, 3_572_000]);
    expect(r.metrics.get('patchbay_teleinfo_checksum_errors_total')).toBe(1);
    expect(r.metrics.get('patchbay_teleinfo_cut_frames_total')).toBeGreaterThanOrEqual(1);
    expect(r.metrics.get('patchbay_teleinfo_garbage_total')).toBeGreaterThan(garbageBefore);
    for (const kind of ['checksum', 'cut', 'garbage']) expect(r.logger.find(new RegExp(`teleinfo .*: ${kind}: `), 'warn'), kind).toHaveLength(1);
    expect(r.gateway.health().devices[0]).toMatchObject({ status: 'alive', restarts: 0 });
    // A meter only talks: the core refuses writes to its read-only channels before the driver.
    expect(await r.host.submit({ device: 'meter', channel: 'PAPP', value: 1 })).toMatchObject({ ok: false, code: 'PB211_READ_ONLY' });
  });

  it('teleinfo - standard mode at 9600 baud 7E1: dated groups, checksum mode 2, EOT-cut frames and a wrong speed dropped', { timeout: 60_000 }, async () => {
    const r = await rig('standard', { silenceMs: 1500 });
    await r.generator.frames({ count: 2 });
    await r.state('SINSTS', 930);
    expect(r.values('EAST')).toEqual([8_101_940]);
    expect(r.values('EASF01')).toEqual([4_213_610]);
    expect(r.values('IRMS1')).toEqual([4]);
    expect(r.values('URMS1')).toEqual([232]);
    expect(r.values('SMAXSN')).toEqual([2580]);
    expect(r.values('DATE')).toEqual(['2023-12-02T10:15:00+02:00']);
    expect(r.values('LTARF')).toEqual(['HP  BLEU']);
    expect(r.values('NJOURF+1')).toEqual([0]);
    const description = await r.description(24);
    expect(description.name).toContain('041876097143');
    expect(description.channels.EASF01).toMatchObject({ kind: 'number', unit: 'Wh', stateClass: 'total_increasing' });
    expect(description.channels.SINSTS).toMatchObject({ unit: 'VA', class: 'apparent_power' });
    expect(description.channels.URMS1).toMatchObject({ unit: 'V', class: 'voltage' });
    expect(description.channels.LTARF).toMatchObject({ kind: 'text', class: 'tariff' });

    await r.generator.frames({ corrupt: 'checksum', label: 'SINSTS', set: { SINSTS: '09999' } });
    await r.generator.frames({ corrupt: 'eot', set: { EAST: '008101999', SINSTS: '09998' } });
    await r.generator.frames({ as_read: '1200', set: { SINSTS: '09997' } });
    await r.generator.frames({ set: { SINSTS: '01010', EAST: '008102000' } });
    await r.state('SINSTS', 1010);
    expect(r.values('SINSTS')).toEqual([930, 1010]);
    expect(r.values('EAST')).toEqual([8_101_940, 8_102_000]);
    expect(r.metrics.get('patchbay_teleinfo_checksum_errors_total')).toBe(1);
    // The frame read at 1200 baud may hold bytes that decode as STX, each a cut frame too.
    expect(r.metrics.get('patchbay_teleinfo_cut_frames_total')).toBeGreaterThanOrEqual(1);
    expect(r.logger.find(/interrupted by the meter \(EOT\)/, 'warn')).toHaveLength(1);
    // A meter that falls silent goes offline; its next frame brings it back.
    const quiet = r.host.delivered.length;
    await r.host.waitFor((e) => r.host.delivered.indexOf(e) >= quiet && e.kind === 'availability' && e.availability === 'offline', { what: 'meter offline after 1.5 s of silence' });
    const back = r.host.delivered.length;
    await r.generator.frames();
    await r.host.waitFor((e) => r.host.delivered.indexOf(e) >= back && e.kind === 'availability' && e.availability === 'online', { what: 'meter online again' });
    expect(r.metrics.get('patchbay_teleinfo_garbage_total')).toBeGreaterThanOrEqual(1);
  });
});
