import { ErrorCodes } from '@patchbay/core';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBus } from '../bus/index.js';
import { captureLogger } from '@patchbay/testing';
import { DomogikPublisher, DomogikSubscriber } from './pubsub.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe('domogik pub/sub', () => {
  it('domogik - §11.7 the publisher refuses to publish until at least 200 ms after connecting', async () => {
    const publisher = new DomogikPublisher({ endpoint: 'inproc://patchbay-domogik-nobody', joinDelayMs: 200 });
    const started = performance.now();
    publisher.start();
    cleanups.push(() => publisher.close());
    expect(publisher.ready).toBe(false);
    await expect(publisher.publish('plugin.status', {})).rejects.toMatchObject({ code: ErrorCodes.HOST_UNREACHABLE });
    await publisher.whenReady();
    expect(performance.now() - started).toBeGreaterThanOrEqual(200);
    await expect(publisher.publish('plugin.status', { event: 'starting' })).resolves.toBeUndefined();
  });

  it('domogik - §11.2 §11.4 §11.6 a publication reaches a subscriber of its exact category as two frames with an equal payload', async () => {
    const bus = new EmbeddedBus({ reqRepPort: 0, pubPort: 0, subPort: 0 });
    const ports = await bus.start();
    cleanups.push(() => bus.stop());
    const log = captureLogger();
    const got: [string, Record<string, unknown>][] = [];
    let wake: () => void = () => undefined;
    const subscriber = new DomogikSubscriber({
      endpoint: `tcp://127.0.0.1:${ports.subPort}`,
      categories: ['plugin.status'],
      logger: log.logger,
      badMessages: log.counter('bad'),
      onMessage: (category, data) => {
        got.push([category, data]);
        wake();
      },
    });
    subscriber.start();
    cleanups.push(() => subscriber.close());
    const publisher = new DomogikPublisher({ endpoint: `tcp://127.0.0.1:${ports.pubPort}`, joinDelayMs: 300 });
    publisher.start();
    cleanups.push(() => publisher.close());
    await publisher.whenReady();
    const payload = { type: 'plugin', name: 'patchbay', host: 'h', event: 'alive', comment: 'é ✓' };
    // Re-publish until the first arrival (no acknowledgement in pub/sub); the prefix-only category never arrives.
    while (got.length === 0) {
      await publisher.publish('plugin.statusfoo', { nope: true });
      await publisher.publish('plugin.status', payload);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
    }
    expect(got.every(([category]) => category === 'plugin.status')).toBe(true);
    expect(got[0]?.[1]).toEqual(payload);
    expect(log.counters.get('bad')).toBeUndefined();
  });
});
