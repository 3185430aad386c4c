import { createGateway } from '@patchbay/core';
import { captureLogger, FakeDriver, FakeHost } from '@patchbay/core/mock';
import { afterEach, describe, expect, it } from 'vitest';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

const fastRestart = { backoff: { delays: [10, 20, 40], jitter: 0 }, maxRestarts: 3, windowMs: 60_000 };

describe('core supervision', () => {
  it('supervision - a driver that throws at start is restarted with back-off and the others keep flowing', async () => {
    const flaky = new FakeDriver();
    flaky.failStarts = 2;
    const steady = new FakeDriver();
    const host = new FakeHost();
    const log = captureLogger();
    const gateway = createGateway({
      devices: [
        { id: 'flaky', definition: flaky.definition },
        { id: 'steady', definition: steady.definition },
      ],
      hosts: [{ id: 'host', definition: host.definition }],
      logger: log.logger,
      restart: fastRestart,
    });
    cleanups.push(() => gateway.stop());
    await gateway.start();
    await steady.waitRunning();
    steady.emit('t', 1);
    await host.waitFor((e) => e.kind === 'state' && e.device === 'steady');
    await host.waitFor((e) => e.kind === 'status' && e.endpoint === 'flaky' && e.status === 'alive', { what: 'flaky alive' });
    expect(flaky.starts).toBe(3);
    const health = gateway.health();
    expect(health.devices.find((d) => d.id === 'flaky')).toMatchObject({ status: 'alive', restarts: 2 });
    expect(log.lines.filter((l) => l.level === 'warn' && l.message.startsWith(`device flaky (${flaky.definition.type}) failed: `) && /; restarting in \d+ ms$/.test(l.message))).toHaveLength(2);
    // The hosts heard about it as status events.
    expect(host.delivered.some((e) => e.kind === 'status' && e.endpoint === 'flaky' && e.status === 'unknown')).toBe(true);
  });

  it('supervision - a driver that fails mid-run is restarted; one log line per status transition', async () => {
    const driver = new FakeDriver();
    const host = new FakeHost();
    const log = captureLogger();
    const gateway = createGateway({ devices: [{ id: 'dev', definition: driver.definition }], hosts: [{ id: 'host', definition: host.definition }], logger: log.logger, restart: fastRestart });
    cleanups.push(() => gateway.stop());
    await gateway.start();
    await driver.waitRunning();
    driver.crash(new Error('cable pulled for good'));
    await driver.waitRunning(2);
    driver.emit('t', 2);
    await host.waitFor((e) => e.kind === 'state' && e.value === 2);
    // Status transitions only: availability (online/offline) has its own lines, fields `availability`.
    const transitions = log.lines.filter((l) => l.fields.device === 'dev' && l.fields.availability === undefined && / is \w+/.test(l.message)).map((l) => / is (\w+)/.exec(l.message)?.[1]);
    expect(transitions).toEqual(['starting', 'alive', 'unknown', 'starting', 'alive']);
    expect(gateway.health().devices[0]?.restarts).toBe(1);
  });

  it('supervision - a crash loop is stopped, reported dead, and shown as degraded health', async () => {
    const driver = new FakeDriver();
    driver.failStarts = 100;
    const host = new FakeHost();
    const log = captureLogger();
    const gateway = createGateway({ devices: [{ id: 'dev', definition: driver.definition }], hosts: [{ id: 'host', definition: host.definition }], logger: log.logger, restart: fastRestart });
    cleanups.push(() => gateway.stop());
    await gateway.start();
    await host.waitFor((e) => e.kind === 'status' && e.endpoint === 'dev' && e.status === 'dead', { what: 'the dead status' });
    expect(driver.starts).toBe(fastRestart.maxRestarts + 1);
    const health = gateway.health();
    expect(health.status).toBe('degraded');
    expect(health.devices[0]).toMatchObject({ status: 'dead' });
    expect(health.devices[0]?.reason).toContain('not restarting it');
    expect(log.lines.filter((l) => l.level === 'error' && l.message.includes('not restarting'))).toHaveLength(1);
    // A command to a dead device gets a failed reply at once.
    await expect(host.submit({ device: 'dev', channel: 'relay', value: true })).resolves.toMatchObject({ ok: false, code: 'PB204_DEVICE_UNAVAILABLE' });
  });

  it('supervision - a host adapter that fails to start is restarted and then receives what waited', async () => {
    const driver = new FakeDriver();
    const host = new FakeHost();
    host.failStarts = 1;
    const gateway = createGateway({ devices: [{ id: 'dev', definition: driver.definition }], hosts: [{ id: 'host', definition: host.definition }], restart: fastRestart });
    cleanups.push(() => gateway.stop());
    await gateway.start();
    await driver.waitRunning();
    driver.emit('t', 7);
    await host.waitFor((e) => e.kind === 'state' && e.value === 7);
    expect(host.starts).toBe(2);
  });
});

describe('a generation’s abort signal', () => {
  it('supervision - a driver’s signal aborts with its generation, whether it was read before the end or after', async () => {
    const driver = new FakeDriver();
    const host = new FakeHost();
    const gateway = createGateway({ devices: [{ id: 'dev', definition: driver.definition }], hosts: [{ id: 'host', definition: host.definition }], restart: fastRestart });
    cleanups.push(() => gateway.stop());
    await gateway.start();
    await driver.waitRunning();
    const first = driver.ctx;
    const readEarly = first?.signal;
    const aborts: unknown[] = [];
    readEarly?.addEventListener('abort', () => aborts.push(readEarly.reason));
    expect(readEarly?.aborted).toBe(false);
    // The same signal each time it is read.
    expect(first?.signal).toBe(readEarly);
    driver.crash(new Error('gone'));
    await driver.waitRunning(2);
    expect(readEarly?.aborted).toBe(true);
    expect(aborts).toHaveLength(1);
    expect((aborts[0] as Error).name).toBe('AbortError');
    expect(driver.ctx?.signal.aborted).toBe(false);

    // A generation whose signal nobody read until it had ended hands an aborted one.
    const second = driver.ctx;
    driver.crash(new Error('gone again'));
    await driver.waitRunning(3);
    const readLate = second?.signal;
    expect(readLate?.aborted).toBe(true);
    expect((readLate?.reason as Error).name).toBe('AbortError');
    // And what it emits after its end is not routed.
    second?.emit('t', 'stale');
    driver.emit('t', 3);
    await host.waitFor((e) => e.kind === 'state' && e.value === 3);
    expect(host.delivered.some((e) => e.kind === 'state' && e.value === 'stale')).toBe(false);
  });
});

describe('a driver’s context taken apart', () => {
  it('supervision - a driver that destructures its context reports through each function alone, and a stale generation’s functions are ignored', async () => {
    const driver = new FakeDriver();
    const host = new FakeHost();
    const gateway = createGateway({ devices: [{ id: 'dev', definition: driver.definition }], hosts: [{ id: 'host', definition: host.definition }], restart: fastRestart });
    cleanups.push(() => gateway.stop());
    await gateway.start();
    await driver.waitRunning();
    const first = driver.ctx;
    if (!first) throw new Error('the driver did not start');
    // Functions taken off the context lose their receiver: each must work alone.
    const { emit, momentary, describe: describeDevice, availability, status, counter, id, gatewayName, signal } = first;
    expect([id, gatewayName, signal.aborted]).toEqual(['dev', 'patchbay', false]);
    describeDevice({ name: 'Probe', channels: { t: { kind: 'number', unit: '°C' }, press: { kind: 'event', class: 'button' } } });
    await host.waitFor((e) => e.kind === 'description' && e.device === 'dev');
    emit('t', 21.5);
    await host.waitFor((e) => e.kind === 'state' && e.value === 21.5);
    momentary('press', 'single');
    await host.waitFor((e) => e.kind === 'momentary' && e.channel === 'press');
    availability('offline', 'cable pulled');
    await host.waitFor((e) => e.kind === 'availability' && e.availability === 'offline' && e.reason === 'cable pulled');
    status('unknown', 'lost the port');
    await host.waitFor((e) => e.kind === 'status' && e.endpoint === 'dev' && e.status === 'unknown');
    counter('dev_frames_total', 'frames').inc();

    driver.crash(new Error('gone'));
    await driver.waitRunning(2);
    driver.emit('t', 21);
    await host.waitFor((e) => e.kind === 'availability' && e.device === 'dev' && e.availability === 'online' && host.delivered.indexOf(e) > host.delivered.findIndex((c) => c.kind === 'status' && c.status === 'unknown'), { what: 'dev online again' });
    emit('t', 'stale');
    momentary('press', 'stale');
    status('dead', 'stale');
    availability('offline', 'stale');
    describeDevice({ name: 'Stale', channels: { t: { kind: 'number' } } });
    // The availability is worked out at once: the stale word would show here.
    expect(gateway.health().devices[0]).toMatchObject({ status: 'alive', availability: 'online' });
    driver.emit('t', 22);
    await host.waitFor((e) => e.kind === 'state' && e.value === 22);
    expect(host.delivered.some((e) => (e.kind === 'state' || e.kind === 'momentary') && e.value === 'stale')).toBe(false);
    expect(host.delivered.some((e) => e.kind === 'description' && e.description.name === 'Stale')).toBe(false);
    expect(gateway.health().devices.find((d) => d.id === 'dev')).toMatchObject({ status: 'alive', availability: 'online' });
  });
});

describe('device health', () => {
  it('supervision - a device’s health entry has its keys in one order, the availability reason last and only when there is one', async () => {
    const driver = new FakeDriver();
    driver.failStarts = 10;
    const gateway = createGateway({ devices: [{ id: 'dev', definition: driver.definition }], hosts: [], restart: fastRestart });
    cleanups.push(() => gateway.stop());
    const before = gateway.health().devices[0];
    expect(JSON.stringify(before)).toBe(
      JSON.stringify({ id: 'dev', kind: 'device', type: before?.type, status: 'stopped', lastSeen: null, queued: 0, delivered: 0, failed: 0, retries: 0, restarts: 0, availability: 'offline', availabilityReason: 'not started' }),
    );
    await gateway.start();
    const failing = gateway.health().devices[0];
    expect(Object.keys(failing ?? {})).toEqual(['id', 'kind', 'type', 'status', 'reason', 'lastSeen', 'queued', 'delivered', 'failed', 'retries', 'restarts', 'availability', 'availabilityReason']);
    expect(failing).toMatchObject({ status: 'unknown', availability: 'offline' });
  });
});
