import { ErrorCodes } from '@patchbay/core';
import { afterEach, describe, expect, it } from 'vitest';
import { Publisher } from 'zeromq';
import { EmbeddedBus } from '../bus/index.js';
import { captureLogger, Signal } from '@patchbay/testing';
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
      maxMessageBytes: 1024 * 1024,
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

  it('domogik - a publication nested deeper than 64 levels is dropped with one log line and the subscriber keeps going', async () => {
    const bus = new EmbeddedBus({ reqRepPort: 0, pubPort: 0, subPort: 0 });
    const ports = await bus.start();
    cleanups.push(() => bus.stop());
    const log = captureLogger();
    const got: Record<string, unknown>[] = [];
    const arrived = new Signal();
    const subscriber = new DomogikSubscriber({
      endpoint: `tcp://127.0.0.1:${ports.subPort}`,
      categories: ['device.update'],
      logger: log.logger,
      badMessages: log.counter('bad'),
      maxMessageBytes: 1024 * 1024,
      onMessage: (_category, data) => {
        got.push(data);
        arrived.notify();
      },
    });
    subscriber.start();
    cleanups.push(() => subscriber.close());
    const pub = new Publisher({ linger: 0 });
    cleanups.push(() => pub.close());
    pub.connect(`tcp://127.0.0.1:${ports.pubPort}`);
    // Slow joiner (§4.4): repeat a shallow message until the subscription has propagated.
    while (got.length === 0) {
      await pub.send(['device.update.1700000000_000001.0_1', '{"n": 0}']);
      await arrived.waitUntil(() => (got.length > 0 ? true : undefined), { what: 'the first publication', timeoutMs: 100 }).catch(() => undefined);
    }
    // One publisher to one subscriber keeps its order: once "n": 2 is in, the deep one was handled.
    await pub.send(['device.update.1700000000_000002.0_1', `{"n": 1, "x": ${'['.repeat(5000)}${']'.repeat(5000)}}`]);
    await pub.send(['device.update.1700000000_000003.0_1', '{"n": 2}']);
    await arrived.waitUntil(() => (got.some((d) => d.n === 2) ? true : undefined), { what: 'the publication after the deep one' });
    // Only the repeated "n": 0 and then "n": 2 arrived.
    expect(got.map((d) => d.n).filter((n) => n !== 0)).toEqual([2]);
    expect(log.counters.get('bad')).toBe(1);
    expect(log.find(/^domogik subscriber: dropped a malformed publication: publication device\.update: JSON nested deeper than 64 levels/, 'warn')).toHaveLength(1);
  });

  it('domogik - 13.7 a publication over maxMessageBytes from an external forwarder never arrives: the subscriber logs the drop, subscribes again on a new socket and gets the next one', async () => {
    // The bus takes 4 MiB parts; the subscriber only 64 KiB, as against a forwarder that is not ours.
    const bus = new EmbeddedBus({ reqRepPort: 0, pubPort: 0, subPort: 0, limits: { maxMessageBytes: 4 * 1024 * 1024 } });
    const ports = await bus.start();
    cleanups.push(() => bus.stop());
    const log = captureLogger();
    const got: Record<string, unknown>[] = [];
    const arrived = new Signal();
    const subscriber = new DomogikSubscriber({
      endpoint: `tcp://127.0.0.1:${ports.subPort}`,
      categories: ['device.update'],
      logger: log.logger,
      badMessages: log.counter('bad'),
      maxMessageBytes: 64 * 1024,
      onMessage: (_category, data) => {
        got.push(data);
        arrived.notify();
      },
    });
    subscriber.start();
    cleanups.push(() => subscriber.close());
    const pub = new Publisher({ linger: 0 });
    cleanups.push(() => pub.close());
    pub.connect(`tcp://127.0.0.1:${ports.pubPort}`);
    const until = async (n: number, what: string) => {
      // Slow joiner (§4.4), on the first socket and on the new one: repeat until it arrives.
      while (!got.some((d) => d.n === n)) {
        await pub.send(['device.update.1700000000_000001.0_1', JSON.stringify({ n })]);
        await arrived.waitUntil(() => (got.some((d) => d.n === n) ? true : undefined), { what, timeoutMs: 100 }).catch(() => undefined);
      }
    };
    await until(0, 'the first publication');
    await pub.send(['device.update.1700000000_000002.0_1', JSON.stringify({ n: 'big', v: 'x'.repeat(128 * 1024) })]);
    await log.waitFor(/^domogik subscriber: the connection to the forwarder dropped/, { level: 'warn' });
    await until(1, 'a publication after the big one, on the new socket');
    expect(got.some((d) => d.n === 'big')).toBe(false);
    expect(log.find(/^domogik subscriber: the connection to the forwarder dropped \(it went away, or published a message part over 65536 bytes, domogik\.busMaxMessageBytes\); subscribing again in 1000 ms$/, 'warn')).toHaveLength(1);
  });
});
