import { PtyPair } from '@patchbay/testing';
import { createGateway, type Counter, type MetricsSink } from '@patchbay/core';
import { captureLogger, FakeHost } from '@patchbay/testing';
import { SerialPort } from 'serialport';
import { afterEach, describe, expect, it } from 'vitest';
import modbusDriver from '../src/index.js';
import { crc16 } from '../src/internal.js';

const withCrc = (bytes: number[]): Buffer => {
  const body = Buffer.from(bytes);
  const crc = Buffer.alloc(2);
  crc.writeUInt16LE(crc16(body));
  return Buffer.concat([body, crc]);
};

/** Counts in memory, read back by name. */
class MemoryMetrics implements MetricsSink {
  readonly values = new Map<string, number>();
  counter(name: string): Counter {
    if (!this.values.has(name)) this.values.set(name, 0);
    return { inc: (amount = 1) => this.values.set(name, (this.values.get(name) ?? 0) + amount) };
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('modbus - bad input from the line', () => {
  it('modbus - garbage, a wrong CRC, a reply from the wrong unit and a short reply are counted and logged once per kind, never reported', async () => {
    const pair = await PtyPair.open('patchbay-modbus-');
    cleanups.push(() => pair.close());
    // A scripted slave at the far end of the pty: each request to read holding register 0
    // (2 registers, a uint32) gets the next bad answer, then good ones carrying 70000.
    const far = new SerialPort({ path: pair.b, baudRate: 9600, autoOpen: false });
    far.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => far.open((e) => (e ? reject(e) : resolve())));
    cleanups.push(() => new Promise<void>((resolve) => far.close(() => resolve())));
    const good = withCrc([1, 3, 4, 0x00, 0x01, 0x11, 0x70]);
    const script: Buffer[] = [
      Buffer.concat([Buffer.from([0x00, 0xfe, 0x55, 0xaa]), withCrc([1, 3, 4, 0x00, 0x07, 0x00, 0x00])]), // garbage first: values of this reply are fine (7*65536)
      Buffer.concat([good.subarray(0, -2), Buffer.from([0x12, 0x34])]), // wrong CRC
      withCrc([9, 3, 4, 0x00, 0x09, 0x00, 0x00]), // another unit's reply
      withCrc([1, 3, 2, 0x00, 0x08]), // too short for a uint32
      Buffer.from([0x42, 0x42, 0x42]), // garbage alone
    ];
    const seen: number[] = [];
    let pending = Buffer.alloc(0);
    far.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 8) {
        seen.push(pending[0] as number);
        pending = pending.subarray(8);
        far.write(script.shift() ?? good);
      }
    });
    const host = new FakeHost();
    const logger = captureLogger();
    const metrics = new MemoryMetrics();
    const gateway = createGateway({
      devices: [
        {
          id: 'meter',
          definition: modbusDriver,
          options: { connection: { type: 'rtu', path: pair.a, timeoutMs: 200 }, unitId: 1, pollIntervalMs: 50, channels: { hours: { table: 'holding', address: 0, type: 'uint32' } } },
        },
      ],
      hosts: [{ id: 'h1', definition: host.definition }],
      logger,
      metrics,
    });
    await gateway.start();
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 500 }));
    await host.waitFor((e) => e.kind === 'state' && e.channel === 'hours' && e.value === 70_000, { what: 'the good value', timeoutMs: 15_000 });
    const values = host.delivered.filter((e) => e.kind === 'state').map((e) => (e.kind === 'state' ? e.value : undefined));
    // The garbage-prefixed reply was itself good (7 * 65536); nothing from the bad ones came through.
    expect(values).toEqual([458_752, 70_000]);
    for (const kind of ['garbage', 'crc', 'wrongUnit', 'short']) {
      await logger.waitFor(new RegExp(`: ${kind} input: `), { level: 'warn' });
      expect(logger.find(new RegExp(`: ${kind} input: `), 'warn')).toHaveLength(1);
    }
    for (const name of ['patchbay_modbus_garbage_total', 'patchbay_modbus_crc_errors_total', 'patchbay_modbus_wrong_unit_total', 'patchbay_modbus_short_replies_total']) {
      expect(metrics.values.get(name), name).toBeGreaterThanOrEqual(1);
    }
    expect(metrics.values.get('patchbay_modbus_garbage_total')).toBeGreaterThanOrEqual(2);
    expect(gateway.health().devices[0]).toMatchObject({ status: 'alive', restarts: 0 });
  });
});
