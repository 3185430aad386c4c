import { createGateway, type Counter, type DriverDefinition, type MetricsSink, type OutboundEvent } from '@patchbay/core';
import { captureLogger, FakeHost, Signal } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceDescription } from '../src/described.js';
import teleinfoDriver from '../src/index.js';
import { TeleinfoGenerator } from './generator.js';
import { PtyPair } from './socat.js';

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

// Until the core's described-devices API delivers descriptions to hosts, what the driver
// passes to ctx.describe is recorded here.
const descriptions: DeviceDescription[] = [];
const described = new Signal();
function recording(definition: DriverDefinition): DriverDefinition {
  return {
    ...definition,
    create: (config, ctx) =>
      definition.create(
        config,
        new Proxy(ctx, {
          get: (target, key) =>
            key === 'describe'
              ? (description: DeviceDescription) => {
                  descriptions.push(description);
                  described.notify();
                }
              : Reflect.get(target, key),
        }),
      ),
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function rig(mode: 'historic' | 'standard') {
  const pair = await PtyPair.open();
  cleanups.push(() => pair.close());
  const generator = await TeleinfoGenerator.start(pair.b, mode);
  cleanups.push(() => generator.stop());
  const host = new FakeHost();
  const metrics = new MemoryMetrics();
  const logger = captureLogger();
  const gateway = createGateway({
    devices: [{ id: 'meter', definition: recording(teleinfoDriver), options: { path: pair.a, mode } }],
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
  return { generator, host, metrics, logger, gateway, state, values };
}

describe('teleinfo - acceptance 2 against the frame generator', () => {
  it('teleinfo - historic mode at 1200 baud 7E1: every label a described channel; bad checksums, cut frames and a wrong line dropped and counted', { timeout: 90_000 }, async () => {
    const mark = descriptions.length;
    const r = await rig('historic');
    await r.generator.frames({ count: 2 });
    const labels = ['ADCO', 'OPTARIF', 'ISOUSC', 'HCHC', 'HCHP', 'PTEC', 'IINST', 'IMAX', 'PAPP', 'HHPHC', 'MOTDETAT'];
    await r.state('PAPP', 1800);
    expect(r.values('HCHC')).toEqual([2_815_440]);
    expect(r.values('PTEC')).toEqual(['HP..']);
    expect(r.values('ADCO')).toEqual(['031762120162']);
    for (const label of labels) expect(r.values(label), label).toHaveLength(1);
    const description = await described.waitUntil(() => descriptions.slice(mark).findLast((d) => Object.keys(d.channels).length === labels.length), { what: 'a description of every label', timeoutMs: 5000 });
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
  });

  it('teleinfo - standard mode at 9600 baud 7E1: dated groups, checksum mode 2, EOT-cut frames and a wrong speed dropped', { timeout: 60_000 }, async () => {
    const mark = descriptions.length;
    const r = await rig('standard');
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
    const description = await described.waitUntil(() => descriptions.slice(mark).findLast((d) => Object.keys(d.channels).length === 24), { what: 'a description of all 24 labels', timeoutMs: 5000 });
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
    expect(r.metrics.get('patchbay_teleinfo_garbage_total')).toBeGreaterThanOrEqual(1);
  });
});
