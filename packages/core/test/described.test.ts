import { createGateway, defineDriver, DeviceDescriptionSchema, ErrorCodes, type DeviceDescriptionInput, type OutboundEvent } from '@patchbay/core';
import { captureLogger, FakeDriver, FakeHost } from '@patchbay/core/mock';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

const thermostat: DeviceDescriptionInput = {
  name: 'Thermostat',
  channels: {
    temperature: { kind: 'number', unit: '°C', class: 'temperature', stateClass: 'measurement' },
    relay: { kind: 'boolean', writable: true, class: 'switch' },
    setpoint: { kind: 'number', writable: true, min: 5, max: 30, unit: '°C' },
    mode: { kind: 'enum', writable: true, options: ['eco', 'comfort'] },
    button: { kind: 'event', class: 'button' },
  },
  actions: { refresh: {} },
};

async function rig(options: { staleAfterMs?: number; eventTtlMs?: number; description?: DeviceDescriptionInput } = {}) {
  const driver = new FakeDriver();
  const host = new FakeHost();
  const log = captureLogger();
  const gateway = createGateway({
    devices: [{ id: 'dev', definition: driver.definition, staleAfterMs: options.staleAfterMs }],
    hosts: [{ id: 'host', definition: host.definition }],
    logger: log.logger,
    metrics: log.metrics,
    eventTtlMs: options.eventTtlMs,
    outbox: { backoff: { delays: [5, 10], jitter: 0 } },
  });
  cleanups.push(() => gateway.stop({ drainTimeoutMs: 100 }));
  await gateway.start();
  await driver.waitRunning();
  await host.waitStarted();
  const ctx = driver.ctx;
  if (!ctx) throw new Error('driver not started');
  if (options.description !== null) ctx.describe(options.description ?? thermostat);
  return { driver, host, log, gateway, ctx };
}

const of = <K extends OutboundEvent['kind']>(events: readonly OutboundEvent[], kind: K) => events.filter((e): e is Extract<OutboundEvent, { kind: K }> => e.kind === kind);

describe('described devices', () => {
  it('described - a description reaches every routed host, the snapshot and the host context', async () => {
    const { host, gateway } = await rig();
    const event = await host.waitFor((e) => e.kind === 'description');
    expect(event).toMatchObject({ kind: 'description', device: 'dev', description: { name: 'Thermostat' } });
    expect(host.ctx?.description('dev')?.channels.relay).toEqual({ kind: 'boolean', writable: true, class: 'switch' });
    expect(host.ctx?.description('nope')).toBeUndefined();
    expect(gateway.snapshot().devices[0]).toMatchObject({ device: 'dev', availability: 'online', description: { name: 'Thermostat' } });
    expect(host.ctx?.devices()[0]).toMatchObject({ id: 'dev', availability: 'online' });
  });

  it('described - a write to a read-only channel is refused with PB211 and the driver is never asked', async () => {
    const { driver, host, log } = await rig();
    const reply = await host.submit({ device: 'dev', channel: 'temperature', value: 30 });
    expect(reply).toMatchObject({ ok: false, code: ErrorCodes.READ_ONLY });
    expect(reply.error).toContain('read-only (writable: relay, setpoint, mode)');
    expect(driver.commands).toHaveLength(0);
    expect(log.counters.get('patchbay_commands_refused_total')).toBe(1);
  });

  it('described - values are coerced to the channel kind: the driver gets true, never "1"', async () => {
    const { driver, host } = await rig();
    for (const value of ['1', 'on', 1, 'TRUE']) {
      const reply = await host.submit({ device: 'dev', channel: 'relay', value });
      expect(reply).toMatchObject({ ok: true, value: true });
    }
    await host.submit({ device: 'dev', channel: 'setpoint', value: '21.5' });
    expect(driver.commands.map((c) => c.value)).toEqual([true, true, true, true, 21.5]);
  });

  it('described - a value of the wrong kind, out of range or outside the list is refused with PB212 naming what fits', async () => {
    const { driver, host } = await rig();
    const cases: [string, unknown, RegExp][] = [
      ['relay', 'maybe', /relay" of device "dev" expects a boolean/],
      ['setpoint', 31, /expects a number from 5 to 30, got 31/],
      ['setpoint', 'warm', /expects a number from 5 to 30, got "warm"/],
      ['mode', 'turbo', /expects one of "eco", "comfort", got "turbo"/],
    ];
    for (const [channel, value, message] of cases) {
      const reply = await host.submit({ device: 'dev', channel, value: value as never });
      expect(reply).toMatchObject({ ok: false, code: ErrorCodes.VALUE_INVALID });
      expect(reply.error).toMatch(message);
    }
    const unknownAction = await host.submit({ device: 'dev', action: 'reboot' });
    expect(unknownAction).toMatchObject({ ok: false, code: ErrorCodes.COMMAND_INVALID });
    expect(unknownAction.error).toContain('known: refresh');
    expect(driver.commands).toHaveLength(0);
  });

  it('described - an undescribed channel keeps working as today, value untouched', async () => {
    const { driver, host } = await rig();
    const reply = await host.submit({ device: 'dev', channel: 'extra', value: '1' });
    expect(reply).toMatchObject({ ok: true, value: '1' });
    expect(driver.commands[0]?.value).toBe('1');
  });

  it('described - a description that fails its schema is refused with one line naming the problem, and the previous one stays', async () => {
    const { host, log, ctx, gateway } = await rig();
    expect(gateway.health().devices[0]?.descriptionsRefused).toBeUndefined();
    ctx.describe({ name: 'broken', channels: { x: { kind: 'enum' } } } as never);
    const line = await log.waitFor(/sent a description that fails its schema/);
    expect(line.message).toContain('description.channels.x.options');
    expect(host.ctx?.description('dev')?.name).toBe('Thermostat');
    expect(gateway.health().devices[0]).toMatchObject({ descriptionsRefused: 1 });
  });

  it('described - a value of the wrong kind from the driver is not routed, counted each time and logged once', async () => {
    const { driver, host, log, gateway } = await rig();
    driver.emit('temperature', 'hot');
    driver.emit('temperature', 'hotter');
    driver.emit('temperature', 20.5);
    await host.waitFor((e) => e.kind === 'state' && e.channel === 'temperature');
    expect(of(host.delivered, 'state').map((e) => e.value)).toEqual([20.5]);
    expect(gateway.health().devices[0]).toMatchObject({ valuesRefused: 2 });
    expect(log.find(/reported "hot" for temperature, which is described as number/)).toHaveLength(1);
    expect(log.find(/hotter/)).toHaveLength(0);
  });

  it('described - 100 presses while the host is down all arrive, in order, when it returns', async () => {
    const { driver, host, ctx } = await rig();
    await host.waitFor((e) => e.kind === 'availability' && e.availability === 'online');
    host.down = true;
    for (let i = 0; i < 50; i++) ctx.momentary('button', i);
    for (let i = 50; i < 100; i++) driver.emit('button', i); // emit on an `event` channel is momentary too
    host.down = false;
    host.poke();
    await host.waitFor(() => of(host.delivered, 'momentary').length === 100, { what: '100 presses' });
    expect(of(host.delivered, 'momentary').map((e) => e.value)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(of(host.delivered, 'state').filter((e) => e.channel === 'button')).toHaveLength(0);
  });

  it('described - presses older than eventTtlMs are dropped undelivered, counted and logged once', async () => {
    const { host, log, ctx } = await rig({ eventTtlMs: 1 });
    await host.waitFor((e) => e.kind === 'availability' && e.availability === 'online');
    host.down = true;
    ctx.momentary('button', 'old-1');
    // Fails once, so the host counts as down and the presses wait behind the retry.
    await log.waitFor(/host host is unreachable/);
    ctx.momentary('button', 'old-2');
    ctx.momentary('button', 'old-3');
    await new Promise((resolve) => setTimeout(resolve, 20)); // let the 1 ms time to live pass: the subject here is age itself
    host.down = false;
    host.poke();
    await log.waitFor(/dropping momentary events older than 1 ms/);
    await host.waitFor(() => (log.counters.get('patchbay_host_momentary_events_expired_total') ?? 0) === 3, { what: 'three expired' });
    expect(of(host.delivered, 'momentary')).toHaveLength(0);
    expect(log.find(/dropping momentary events/)).toHaveLength(1);
  });

  it('described - a device silent for staleAfterMs is stale for its hosts, and online again with its next report', async () => {
    const { driver, host, gateway } = await rig({ staleAfterMs: 150 });
    driver.emit('temperature', 20);
    const stale = await host.waitFor((e) => e.kind === 'availability' && e.availability === 'stale', { timeoutMs: 10_000 });
    expect(stale).toMatchObject({ device: 'dev', reason: 'nothing reported for 150 ms' });
    expect(gateway.health().devices[0]).toMatchObject({ availability: 'stale' });
    const before = host.delivered.length;
    driver.emit('temperature', 21);
    await host.waitFor((e) => host.delivered.indexOf(e) >= before && e.kind === 'availability' && e.availability === 'online');
    expect(gateway.health().devices[0]).toMatchObject({ availability: 'online' });
  });

  it('described - staleAfterMs defaults to three report intervals from the description', async () => {
    const { host } = await rig({ description: { ...thermostat, reportIntervalMs: 50 } });
    await host.waitFor((e) => e.kind === 'availability' && e.availability === 'stale' && e.reason === 'nothing reported for 150 ms', { timeoutMs: 10_000 });
  });

  it('described - a driver that says its device is offline makes it offline with the reason, until the device reports again', async () => {
    const { driver, host, ctx } = await rig();
    ctx.availability('offline', '3 timeouts in a row');
    await host.waitFor((e) => e.kind === 'availability' && e.availability === 'offline' && e.reason === '3 timeouts in a row');
    driver.emit('temperature', 19);
    await host.waitFor((e) => e.kind === 'availability' && e.availability === 'online' && host.delivered.indexOf(e) > 2);
  });

  it('described - a failed driver makes its device offline for its hosts, and online once restarted', async () => {
    const { host, driver } = await rig();
    await host.waitFor((e) => e.kind === 'availability' && e.availability === 'online');
    driver.crash(new Error('cable pulled'));
    const offline = await host.waitFor((e) => e.kind === 'availability' && e.availability === 'offline');
    expect(offline).toMatchObject({ reason: expect.stringMatching(/^driver (unknown|starting|stopped)/) });
    await host.waitFor((e) => e.kind === 'availability' && e.availability === 'online' && host.delivered.indexOf(e) > host.delivered.indexOf(offline));
  });

  it('described - a staleAfterMs that is not a positive whole number is a config error naming its path', () => {
    const driver = new FakeDriver();
    expect(() => createGateway({ devices: [{ id: 'dev', definition: driver.definition, staleAfterMs: -5 }], hosts: [] })).toThrow(/devices\[0\]\.staleAfterMs: expected a whole number/);
  });
});

/** Two devices of one driver that describes each with the object `describe` returns. */
async function pair(describe: () => unknown) {
  const host = new FakeHost();
  const log = captureLogger();
  const definition = defineDriver({
    type: 'alike',
    description: 'devices described alike',
    config: z.object({}).strict(),
    create: (_config, ctx) => ({ start: () => ctx.describe(describe() as DeviceDescriptionInput), stop: () => undefined, send: () => ({ ok: true }) }),
  });
  const gateway = createGateway({
    devices: [
      { id: 'a', definition },
      { id: 'b', definition },
    ],
    hosts: [{ id: 'host', definition: host.definition }],
    logger: log.logger,
    metrics: log.metrics,
  });
  cleanups.push(() => gateway.stop({ drainTimeoutMs: 100 }));
  await gateway.start();
  await host.waitStarted();
  return { host, log, gateway };
}

const deepFreeze = <T>(value: T): T => {
  if (typeof value === 'object' && value !== null) for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
};

describe('descriptions shared between devices', () => {
  it('described - two devices handed one frozen description are both described, with what the schema makes of it', async () => {
    const shared = deepFreeze(structuredClone(thermostat));
    const { host, gateway } = await pair(() => shared);
    await host.waitFor(() => of(host.delivered, 'description').length === 2);
    const parsed = DeviceDescriptionSchema.parse(thermostat);
    for (const id of ['a', 'b']) expect(host.ctx?.description(id)).toEqual(parsed);
    expect(of(host.delivered, 'description').map((e) => e.device).sort()).toEqual(['a', 'b']);
    // Shared, so frozen: a host cannot change one device's description under the other.
    expect(Object.isFrozen(host.ctx?.description('a')?.channels.relay)).toBe(true);
    expect(gateway.snapshot().devices.map((d) => d.description?.channels.relay?.writable)).toEqual([true, true]);
  });

  it('described - a frozen description that fails its schema is refused for every device that hands it in', async () => {
    const broken = deepFreeze({ name: 'broken', channels: { x: { kind: 'enum' } } });
    const { log, gateway } = await pair(() => broken);
    await log.waitFor(/device b sent a description that fails its schema/);
    expect(log.find(/device a sent a description that fails its schema/)).toHaveLength(1);
    expect(gateway.health().devices.map((d) => d.descriptionsRefused)).toEqual([1, 1]);
  });

  it('described - a description frozen only on the outside is parsed again, so a change inside it is refused', async () => {
    const channels: Record<string, unknown> = { t: { kind: 'number' } };
    const outer = Object.freeze({ name: 'outer', channels });
    let calls = 0;
    const { host, log, gateway } = await pair(() => {
      // The second device's start finds the channel made invalid after the first was accepted.
      if (calls++ === 1) channels.t = { kind: 'enum' };
      return outer;
    });
    await log.waitFor(/fails its schema/);
    const described = of(host.delivered, 'description');
    expect(described).toHaveLength(1);
    expect(gateway.health().devices.map((d) => d.descriptionsRefused)).toEqual([undefined, 1]);
    expect(Object.isFrozen(described[0]?.description.channels)).toBe(false);
  });
});
