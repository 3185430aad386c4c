import { createGateway, ErrorCodes, isPatchbayError, type OutboundEvent } from '@patchbay/core';
import { captureLogger, FakeDriver, FakeHost } from '@patchbay/core/mock';
import { afterEach, describe, expect, it } from 'vitest';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

const states = (host: FakeHost, channel = 't') => host.delivered.filter((e): e is Extract<OutboundEvent, { kind: 'state' }> => e.kind === 'state' && e.channel === channel).map((e) => e.value);

async function rig() {
  const driver = new FakeDriver();
  const stay = new FakeHost();
  const change = new FakeHost();
  const log = captureLogger();
  const spec = {
    devices: [{ id: 'dev', definition: driver.definition }],
    hosts: [
      { id: 'stay', definition: stay.definition, options: { n: 1 } },
      { id: 'change', definition: change.definition, options: { n: 1 } },
    ],
  };
  const gateway = createGateway({ ...spec, logger: log.logger, outbox: { backoff: { delays: [5], jitter: 0 } } });
  cleanups.push(() => gateway.stop({ drainTimeoutMs: 200 }));
  await gateway.start();
  await driver.waitRunning();
  return { driver, stay, change, log, gateway, spec };
}

describe('live reload', () => {
  it('reload - only the changed host restarts, an added device starts, and no event is lost or duplicated for anyone', async () => {
    const { driver, stay, change, gateway, spec, log } = await rig();
    driver.emit('t', 1);
    await change.waitFor((e) => e.kind === 'state' && e.value === 1);
    const added = new FakeDriver();
    // Events keep flowing while the reload runs: the restarting host must get them afterwards.
    const emitting = (async () => {
      for (let i = 2; i <= 50; i++) {
        driver.emit('t', i);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const result = await gateway.reload({
      devices: [...spec.devices, { id: 'new', definition: added.definition }],
      hosts: [spec.hosts[0] as never, { id: 'change', definition: change.definition, options: { n: 2 } }],
    });
    await emitting;
    expect(result).toMatchObject({ restarted: ['change'], added: ['new'], removed: [], unchanged: ['dev', 'stay'], routesChanged: false });
    expect(stay.starts).toBe(1);
    expect(change.starts).toBe(2);
    await added.waitRunning();
    added.emit('x', 'hello');
    await stay.waitFor((e) => e.kind === 'state' && e.device === 'new');
    await change.waitFor((e) => e.kind === 'state' && e.device === 'new');
    await change.waitFor((e) => e.kind === 'state' && e.value === 50);
    await stay.waitFor((e) => e.kind === 'state' && e.value === 50);
    // State may coalesce while a host restarts (latest wins), but never repeats or goes back.
    for (const host of [stay, change]) {
      const seen = states(host) as number[];
      expect(seen.at(-1)).toBe(50);
      expect([...seen].sort((a, b) => a - b)).toEqual(seen);
      expect(new Set(seen).size).toBe(seen.length);
    }
    expect(states(stay)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(log.find(/^reload: host change restarted/)).toHaveLength(1);
    expect(log.find(/^reload done: 1 restarted, 1 added, 0 removed, 2 unchanged/)).toHaveLength(1);
  });

  it('reload - an invalid spec changes nothing and names every problem', async () => {
    const { stay, change, gateway, spec } = await rig();
    const error = await gateway
      .reload({
        devices: [...spec.devices, { id: 'dev', definition: new FakeDriver().definition }, { id: 'slow', definition: new FakeDriver().definition, staleAfterMs: -1 }],
        hosts: [{ id: 'change', definition: change.definition, options: { n: 3 } }],
        routes: [{ devices: ['ghost'], hosts: ['change'] }],
      })
      .catch((e: unknown) => e);
    expect(isPatchbayError(error, ErrorCodes.CONFIG_INVALID)).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('devices[1].id: duplicate id "dev"');
    expect(message).toContain('devices[2].staleAfterMs');
    expect(message).toContain('routes[0].devices[0]: unknown device "ghost"');
    expect(stay.starts).toBe(1);
    expect(change.starts).toBe(1);
    expect(gateway.health().hosts.map((h) => h.id)).toEqual(['stay', 'change']);
  });

  it('reload - a removed host is stopped and gets nothing more; a device newly routed to a host is sent its current state', async () => {
    const { driver, stay, change, gateway, spec } = await rig();
    const other = new FakeDriver();
    await gateway.reload({ devices: [...spec.devices, { id: 'other', definition: other.definition }], hosts: spec.hosts, routes: [{ devices: ['dev'], hosts: ['stay', 'change'] }] });
    await other.waitRunning();
    other.emit('v', 7);
    driver.emit('t', 1);
    await stay.waitFor((e) => e.kind === 'state' && e.device === 'dev' && e.value === 1);
    expect(stay.delivered.some((e) => e.kind === 'state' && e.device === 'other')).toBe(false);
    const result = await gateway.reload({ devices: [...spec.devices, { id: 'other', definition: other.definition }], hosts: [spec.hosts[0] as never] });
    expect(result).toMatchObject({ removed: ['change'], routesChanged: true });
    expect(change.stops).toBe(1);
    // Routes gone: every device to every host, so `stay` is now owed what `other` said.
    await stay.waitFor((e) => e.kind === 'state' && e.device === 'other' && e.value === 7);
    const before = change.delivered.length;
    driver.emit('t', 2);
    await stay.waitFor((e) => e.kind === 'state' && e.value === 2);
    expect(change.delivered.length).toBe(before);
  });

  it('reload - reloads run one at a time, in order', async () => {
    const { change, gateway, spec } = await rig();
    const first = gateway.reload({ ...spec, hosts: [spec.hosts[0] as never, { id: 'change', definition: change.definition, options: { n: 2 } }] });
    const second = gateway.reload({ ...spec, hosts: [spec.hosts[0] as never, { id: 'change', definition: change.definition, options: { n: 3 } }] });
    expect((await first).restarted).toEqual(['change']);
    expect((await second).restarted).toEqual(['change']);
    expect(change.starts).toBe(3);
  });
});
