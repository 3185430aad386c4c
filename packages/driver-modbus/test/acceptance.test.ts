import { createGateway, ErrorCodes, type Gateway, type OutboundEvent } from '@patchbay/core';
import { captureLogger, FakeHost, PtyPair, PymodbusSlave, type SlaveMode } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import modbusDriver from '../src/index.js';
import { expected, meterChannels, pumpChannels, seed } from './map.js';

type Transport = 'rtu' | 'tcp' | 'rtu-over-tcp';

interface Rig {
  gateway: Gateway;
  h1: FakeHost;
  h2: FakeHost;
  slave: PymodbusSlave;
  mode: SlaveMode;
  logger: ReturnType<typeof captureLogger>;
}

/** Waits for an availability event of `device` at `host`, delivered after index `after`. */
const availabilityOf = (host: FakeHost, { device, state, after, timeoutMs = 10_000 }: { device: string; state: string; after: number; timeoutMs?: number }) =>
  host.waitFor((e) => host.delivered.indexOf(e) >= after && e.kind === 'availability' && e.device === device && e.availability === state, {
    what: `${device} ${state} at a host`,
    timeoutMs,
  }) as Promise<Extract<OutboundEvent, { kind: 'availability' }>>;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function rig(transport: Transport): Promise<Rig> {
  let mode: SlaveMode;
  let connection: Record<string, unknown>;
  if (transport === 'rtu') {
    const pair = await PtyPair.open('patchbay-modbus-');
    cleanups.push(() => pair.close());
    mode = { rtu: pair.b };
    connection = { type: 'rtu', path: pair.a, baudRate: 9600, timeoutMs: 300 };
  } else if (transport === 'tcp') {
    mode = { tcp: 0 };
    connection = { type: 'tcp', host: '127.0.0.1', port: 0, timeoutMs: 300 };
  } else {
    mode = { rtuOverTcp: 0 };
    connection = { type: 'rtu-over-tcp', host: '127.0.0.1', port: 0, timeoutMs: 300 };
  }
  let slave = await PymodbusSlave.start(mode, [1, 2]);
  if (transport !== 'rtu') {
    // Restarts must come back on the same port.
    mode = transport === 'tcp' ? { tcp: slave.port as number } : { rtuOverTcp: slave.port as number };
    connection.port = slave.port;
  }
  cleanups.push(() => slave.kill());
  await seed(slave);
  const h1 = new FakeHost();
  const h2 = new FakeHost();
  const logger = captureLogger();
  const common = { connection, pollIntervalMs: 150, offlineAfterTimeouts: 2 };
  const gateway = createGateway({
    devices: [
      { id: 'meter', definition: modbusDriver, options: { ...common, unitId: 1, name: 'Meter', channels: meterChannels } },
      { id: 'pump', definition: modbusDriver, options: { ...common, unitId: 2, name: 'Heat pump', channels: pumpChannels } },
      // A register the slave does not have: every read and write of it is an illegal address.
      { id: 'ghost', definition: modbusDriver, options: { ...common, unitId: 1, channels: { missing: { table: 'holding', address: 250, writable: true } } } },
    ],
    hosts: [
      { id: 'h1', definition: h1.definition },
      { id: 'h2', definition: h2.definition },
    ],
    logger,
    commandTimeoutMs: 5000,
  });
  await gateway.start();
  cleanups.push(() => gateway.stop({ drainTimeoutMs: 500 }));
  const r: Rig = { gateway, h1, h2, slave, mode, logger };
  Object.defineProperty(r, 'slave', { get: () => slave, set: (s: PymodbusSlave) => (slave = s) });
  return r;
}

const stateOf = (host: FakeHost, { device, channel, value, after = 0 }: { device: string; channel: string; value: unknown; after?: number }): Promise<OutboundEvent> =>
  host.waitFor((e) => host.delivered.indexOf(e) >= after && e.kind === 'state' && e.device === device && e.channel === channel && e.value === value, {
    what: `${device}.${channel} = ${JSON.stringify(value)}`,
    timeoutMs: 10_000,
  });

async function allValues(host: FakeHost): Promise<void> {
  for (const [device, channels] of Object.entries(expected)) {
    for (const [channel, value] of Object.entries(channels)) await stateOf(host, { device, channel, value });
  }
}

describe.each<Transport>(['rtu', 'tcp', 'rtu-over-tcp'])('modbus - acceptance 1 against pymodbus over %s', (transport) => {
  it('modbus - 20 channels over two unit ids on one bus reach every host, unchanged values once', async () => {
    const { h1, h2, slave } = await rig(transport);
    await allValues(h1);
    await allValues(h2);
    // Every host has the devices described from the map, units and classes included.
    for (const host of [h1, h2]) {
      const meter = (await host.waitFor((e) => e.kind === 'description' && e.device === 'meter', { what: 'the meter described' })) as Extract<OutboundEvent, { kind: 'description' }>;
      expect(Object.keys(meter.description.channels)).toHaveLength(13);
      expect(meter.description.channels.voltage).toEqual({ kind: 'number', unit: 'V', class: 'voltage', stateClass: 'measurement', writable: false });
      expect(meter.description.channels.setpoint).toMatchObject({ kind: 'number', unit: '°C', writable: true, min: 5, max: 30, step: 0.5 });
      expect(meter.description.channels.mode).toMatchObject({ kind: 'enum', options: ['off', 'eco', 'comfort'], writable: true });
      expect(meter.description.channels.relay).toMatchObject({ kind: 'boolean', writable: true, class: 'switch' });
      const pump = (await host.waitFor((e) => e.kind === 'description' && e.device === 'pump', { what: 'the pump described' })) as Extract<OutboundEvent, { kind: 'description' }>;
      expect(Object.keys(pump.description.channels)).toHaveLength(7);
      expect(pump.description.channels.hours).toMatchObject({ unit: 'h', stateClass: 'total_increasing' });
    }
    // A change in the slave comes through; what did not change is not reported again.
    const mark = h1.delivered.length;
    await slave.set({ unit: 2, table: 'ir', address: 0 }, [0x10000 - 57]); // registers are unsigned on the wire
    await stateOf(h1, { device: 'pump', channel: 'outdoor', value: -5.7, after: mark });
    // Let a few more cycles run past the change before counting.
    await slave.set({ unit: 1, table: 'hr', address: 2 }, [0]);
    await stateOf(h1, { device: 'meter', channel: 'running', value: false, after: mark });
    await slave.set({ unit: 1, table: 'hr', address: 2 }, [1]);
    await stateOf(h1, { device: 'meter', channel: 'running', value: true, after: mark });
    const states = (device: string, channel: string) => h1.delivered.filter((e) => e.kind === 'state' && e.device === device && e.channel === channel).length;
    expect(states('meter', 'voltage')).toBe(1);
    expect(states('pump', 'hours')).toBe(1);
    expect(states('pump', 'outdoor')).toBe(2);
  });

  it('modbus - writes reach the datastore and the confirmed value is the reply; exceptions are coded failures', async () => {
    const { h1, h2, slave } = await rig(transport);
    await stateOf(h1, { device: 'meter', channel: 'setpoint', value: 20.5 });
    // Holding register, single write (FC6): 22.5 °C at scale 0.5 is raw 45.
    expect(await h1.submit({ device: 'meter', channel: 'setpoint', value: 22.5 })).toMatchObject({ ok: true, value: 22.5, to: 'h1' });
    expect(await slave.get({ unit: 1, table: 'hr', address: 0 })).toEqual([45]);
    // Coil (FC5), asked by the other host.
    expect(await h2.submit({ device: 'pump', channel: 'pump', value: true })).toMatchObject({ ok: true, value: true, to: 'h2' });
    expect(await slave.get({ unit: 2, table: 'co', address: 0 })).toEqual([true]);
    // A float32 takes two registers: the multiple write (FC16), low word first as mapped.
    expect(await h2.submit({ device: 'pump', channel: 'target', value: 50.25 })).toMatchObject({ ok: true, value: 50.25 });
    expect(await slave.get({ unit: 2, table: 'hr', address: 1 }, 2)).toEqual([0x0000, 0x4249]);
    expect(await h1.submit({ device: 'meter', channel: 'mode', value: 'comfort' })).toMatchObject({ ok: true, value: 'comfort' });
    expect(await slave.get({ unit: 1, table: 'hr', address: 1 })).toEqual([2]);
    // Every host sees the new value.
    await stateOf(h2, { device: 'meter', channel: 'setpoint', value: 22.5 });

    const illegal = await h1.submit({ device: 'ghost', channel: 'missing', value: 1 });
    expect(illegal).toMatchObject({ ok: false, code: 'MODBUS_02_ILLEGAL_DATA_ADDRESS' });
    expect(illegal.error).toContain('Illegal data address');
    expect(illegal.error).toContain(illegal.commandId);
    // Read-only and out-of-range values never reach the wire.
    expect(await h1.submit({ device: 'meter', channel: 'voltage', value: 1 })).toMatchObject({ ok: false, code: 'PB211_READ_ONLY' });
    expect(await h1.submit({ device: 'meter', channel: 'setpoint', value: 99 })).toMatchObject({ ok: false, code: 'PB212_VALUE_INVALID' });
    expect(await slave.get({ unit: 1, table: 'hr', address: 0 })).toEqual([45]);
  });
});

describe.each<Transport>(['rtu', 'tcp', 'rtu-over-tcp'])('modbus - acceptance 1, the slave going away, over %s', (transport) => {
  it('modbus - pymodbus killed for 5 s: its devices go offline, back within 2 s of its return, every command answered', async () => {
    const r = await rig(transport);
    await allValues(r.h1);
    const mark1 = r.h1.delivered.length;
    const mark2 = r.h2.delivered.length;
    await r.slave.kill();
    const killedAt = Date.now();
    // Commands from both hosts while the slave is gone: each gets exactly one (failed) reply.
    const during = [
      r.h1.submit({ device: 'meter', channel: 'setpoint', value: 21 }),
      r.h2.submit({ device: 'pump', channel: 'pump', value: true }),
      r.h1.submit({ device: 'pump', action: 'refresh' }),
    ];
    const down = await availabilityOf(r.h1, { device: 'meter', state: 'offline', after: mark1 });
    await availabilityOf(r.h1, { device: 'pump', state: 'offline', after: mark1 });
    await availabilityOf(r.h2, { device: 'meter', state: 'offline', after: mark2 });
    await availabilityOf(r.h2, { device: 'pump', state: 'offline', after: mark2 });
    expect(down.reason).toMatch(transport === 'rtu' ? /no answer from unit 1/ : /127\.0\.0\.1/);
    const replies = await Promise.all(during);
    for (const reply of replies.slice(0, 2)) {
      expect(reply.ok).toBe(false);
      expect([ErrorCodes.DEVICE_UNAVAILABLE, ErrorCodes.COMMAND_TIMEOUT]).toContain(reply.code);
    }
    // The outage lasts 5 s by the acceptance's clock, whatever the waits above took.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 5000 - (Date.now() - killedAt))));
    const back1 = r.h1.delivered.length;
    const back2 = r.h2.delivered.length;
    r.slave = await PymodbusSlave.start(r.mode, [1, 2]);
    const returned = Date.now();
    for (const device of ['meter', 'pump']) {
      await availabilityOf(r.h1, { device: device, state: 'online', after: back1, timeoutMs: 2000 });
      await availabilityOf(r.h2, { device: device, state: 'online', after: back2, timeoutMs: 2000 });
    }
    expect(Date.now() - returned).toBeLessThan(2000);
    // Values flow again (the new slave's datastore starts from zeros, then is seeded).
    await seed(r.slave);
    const after = r.h1.delivered.length;
    await r.slave.set({ unit: 2, table: 'ir', address: 0 }, [99]);
    await stateOf(r.h1, { device: 'pump', channel: 'outdoor', value: 9.9, after });
    expect(await r.h2.submit({ device: 'pump', channel: 'pump', value: true })).toMatchObject({ ok: true, value: true });
  });
});
