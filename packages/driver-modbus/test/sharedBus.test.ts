import { PtyPair } from '@patchbay/testing';
import { createGateway } from '@patchbay/core';
import { FakeHost } from '@patchbay/testing';
import { SerialPort } from 'serialport';
import { afterEach, describe, expect, it } from 'vitest';
import modbusDriver from '../src/index.js';
import { crc16, expectedReply } from '../src/internal.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('modbus - several devices on one bus', () => {
  it('modbus - two unit ids on one port: one request in flight at a time, each reply to its unit, writes queued between polls', async () => {
    const pair = await PtyPair.open('patchbay-modbus-');
    cleanups.push(() => pair.close());
    // A slow slave: answers each request 20 ms later, and notes any request that arrives
    // while another is still unanswered (an interleaving the bus must never do).
    const far = new SerialPort({ path: pair.b, baudRate: 9600, autoOpen: false });
    far.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => far.open((e) => (e ? reject(e) : resolve())));
    cleanups.push(() => new Promise<void>((resolve) => far.close(() => resolve())));
    let outstanding = 0;
    let overlaps = 0;
    const units = new Set<number>();
    let pending = Buffer.alloc(0);
    far.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 8) {
        const fc = pending[1] as number;
        const length = fc === 16 ? 9 + (pending[6] as number) : 8;
        if (pending.length < length) return;
        const request = pending.subarray(0, length);
        pending = pending.subarray(length);
        if (outstanding > 0) overlaps++;
        outstanding++;
        const unit = request[0] as number;
        units.add(unit);
        const reply = fc === 3 ? Buffer.from([unit, 3, 2, 0, unit * 10]) : Buffer.from(request.subarray(0, 6));
        const body = Buffer.alloc(reply.length + 2);
        reply.copy(body);
        body.writeUInt16LE(crc16(reply), reply.length);
        expect(body.length).toBe(expectedReply(request)?.length);
        setTimeout(() => {
          outstanding--;
          far.write(body);
        }, 20);
      }
    });
    const host = new FakeHost();
    const common = { connection: { type: 'rtu', path: pair.a, timeoutMs: 500 }, pollIntervalMs: 10 };
    const channels = { level: { table: 'holding', address: 0, writable: true } };
    const gateway = createGateway({
      devices: [
        { id: 'one', definition: modbusDriver, options: { ...common, unitId: 1, channels } },
        { id: 'two', definition: modbusDriver, options: { ...common, unitId: 2, channels } },
      ],
      hosts: [{ id: 'h1', definition: host.definition }],
    });
    await gateway.start();
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 500 }));
    await host.waitFor((e) => e.kind === 'state' && e.device === 'one' && e.value === 10, { what: 'unit 1 value' });
    await host.waitFor((e) => e.kind === 'state' && e.device === 'two' && e.value === 20, { what: 'unit 2 value' });
    // Writes from both devices while both poll as fast as they can.
    const writes = await Promise.all([1, 2, 3].flatMap((v) => [host.submit({ device: 'one', channel: 'level', value: v }), host.submit({ device: 'two', channel: 'level', value: v })]));
    for (const reply of writes) expect(reply).toMatchObject({ ok: true });
    expect([...units].sort()).toEqual([1, 2]);
    expect(overlaps).toBe(0);
  });
});
