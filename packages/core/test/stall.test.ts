import { createGateway, defineAdapter, type OutboundEvent } from '@patchbay/core';
import { captureLogger, FakeDriver, FakeHost, Signal } from '@patchbay/core/mock';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** A host that accepts deliveries and never answers, as a hung HTTP callback does, until released. */
function hungHost() {
  const state = { released: false, held: [] as (() => void)[], seen: [] as OutboundEvent[], changed: new Signal() };
  const definition = defineAdapter({
    type: 'hung',
    config: z.object({}),
    create: () => ({
      start: () => undefined,
      stop: () => undefined,
      deliver: (event) =>
        new Promise<void>((resolve) => {
          const done = () => {
            state.seen.push(event);
            state.changed.notify();
            resolve();
          };
          if (state.released) done();
          else state.held.push(done);
        }),
    }),
  });
  const release = () => {
    state.released = true;
    for (const done of state.held.splice(0)) done();
  };
  return { definition, state, release };
}

describe('stalled hosts', () => {
  it('stall - a delivery that makes no progress for stallTimeoutMs marks the host stalled (degraded), logged once and counted; it recovers when the delivery settles', async () => {
    const driver = new FakeDriver();
    const hung = hungHost();
    const healthy = new FakeHost();
    const log = captureLogger();
    const gateway = createGateway({
      devices: [{ id: 'dev', definition: driver.definition }],
      hosts: [
        { id: 'hung', definition: hung.definition },
        { id: 'ok', definition: healthy.definition },
      ],
      logger: log.logger,
      metrics: log.metrics,
      stallTimeoutMs: 150,
    });
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 50 }));
    await gateway.start();
    await driver.waitRunning();
    for (let i = 0; i < 20; i++) driver.emit('t', i);
    await log.waitFor(/host hung is stalled: a delivery has made no progress for \d+ ms/);
    const health = gateway.health();
    expect(health.status).toBe('degraded');
    expect(health.hosts.find((h) => h.id === 'hung')).toMatchObject({ stalled: true, status: 'unknown', reason: expect.stringContaining('stalled') });
    expect(health.hosts.find((h) => h.id === 'ok')).toMatchObject({ stalled: false, status: 'alive' });
    // The healthy host was never held up.
    await healthy.waitFor((e) => e.kind === 'state' && e.value === 19);
    expect(log.counters.get('patchbay_host_stalls_total')).toBe(1);
    // Other hosts heard of it as a status.
    await healthy.waitFor((e) => e.kind === 'status' && e.endpoint === 'hung' && e.status === 'unknown');
    // Released: it moves again, and health comes back by itself.
    hung.release();
    await log.waitFor(/host hung is moving again/);
    expect(log.find(/host hung is stalled/)).toHaveLength(1);
    expect(gateway.health().hosts.find((h) => h.id === 'hung')?.stalled).toBe(false);
    driver.emit('t', 99);
    await hung.state.changed.waitUntil(() => (hung.state.seen.some((e) => e.kind === 'state' && e.value === 99) ? true : undefined), { what: 'the value sent after the stall' });
    expect(gateway.health().status).toBe('ok');
  });
});
