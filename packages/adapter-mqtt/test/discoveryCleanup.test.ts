import { createGateway } from '@patchbay/core';
import { afterEach, describe, expect, it } from 'vitest';
import mqttAdapter from '../src/index.js';
import { captureLogger, FakeDriver, Mosquitto } from '@patchbay/testing';
import { Peer } from './peer.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** A gateway with these described devices on the broker, the same client id (and node id) each time. */
async function gatewayWith(broker: Mosquitto, devices: string[]) {
  const drivers = devices.map((id) => ({ id, driver: new FakeDriver(id) }));
  const log = captureLogger();
  const gateway = createGateway({
    name: 'gw',
    devices: drivers.map(({ id, driver }) => ({ id, definition: driver.definition })),
    hosts: [{ id: 'mqtt', definition: mqttAdapter, options: { url: broker.url, clientId: 'cleanup-test', reconnectMs: 200 } }],
    logger: log.logger,
  });
  await gateway.start();
  for (const { id, driver } of drivers) {
    await driver.waitRunning();
    driver.ctx?.describe({ name: id, channels: { temperature: { kind: 'number', unit: '°C', class: 'temperature' } } });
  }
  return { gateway, log };
}

describe('mqtt - discovery of a removed device (17.3)', () => {
  it('mqtt - a device removed from the config has its discovery topics cleared (empty retained payloads) at the next start; the others stay', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.close());
    const peer = await Peer.open(broker.url, ['homeassistant/#']);
    cleanups.push(() => peer.close());
    const first = await gatewayWith(broker, ['keep1', 'gone1']);
    const configTopic = (device: string) => (m: { topic: string; text: string }) => m.topic.endsWith(`/${device}_temperature/config`) && m.text.length > 0;
    const kept = await peer.waitFor(configTopic('keep1'), { what: 'keep1 discovery' });
    const gone = await peer.waitFor(configTopic('gone1'), { what: 'gone1 discovery' });
    await first.gateway.stop({ drainTimeoutMs: 500 });

    const from = peer.messages.length;
    const second = await gatewayWith(broker, ['keep1']);
    cleanups.push(() => second.gateway.stop({ drainTimeoutMs: 500 }));
    const cleared = await peer.waitFor((m) => m.topic === gone.topic && m.payload.length === 0, { what: 'gone1 discovery cleared', from });
    expect(cleared.retain).toBe(false);
    await peer.waitFor((m) => m.topic === kept.topic && m.payload.length > 0, { what: 'keep1 discovery again', from });
    expect(peer.messages.slice(from).some((m) => m.topic === kept.topic && m.payload.length === 0)).toBe(false);
    await second.log.waitFor(/cleared 1 discovery topics of devices no longer configured/);
    // A late subscriber no longer finds it: the retained message is gone.
    const late = await Peer.open(broker.url, ['homeassistant/#']);
    cleanups.push(() => late.close());
    await late.waitFor((m) => m.topic === kept.topic, { what: 'the kept device, retained' });
    expect(late.messages.some((m) => m.topic === gone.topic)).toBe(false);
  });
});
