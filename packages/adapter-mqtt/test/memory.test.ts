/** PERFORMANCE.md "Memory": the idle gateway holds no per-packet-id cache from mqtt-packet. */
import { createRequire } from 'node:module';
import { freePort } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { Peer } from './peer.js';
import { startRig } from './rig.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

// mqtt-packet's packet-id cache, shared by MQTT.js and aedes (one copy in the install).
const numbers = createRequire(import.meta.url)('mqtt-packet/numbers.js') as { cache: Record<number, Buffer> };

describe('mqtt - memory', () => {
  it('mqtt - QoS 1 traffic both ways through the embedded broker leaves mqtt-packet without its 65,536-Buffer id cache (6 MB of idle heap)', async () => {
    const port = await freePort();
    const r = await startRig({ embedded: { port }, resultTopic: true, discovery: { enabled: false } });
    cleanups.push(r.stop);
    r.driver.emit('temperature', 21);
    const p = await Peer.open(`mqtt://127.0.0.1:${port}`, [`${r.base}/#`], { protocolVersion: 4 });
    cleanups.push(() => p.close());
    await p.waitLatest(`${r.base}/dev1/temperature`, (t) => t === '21');
    await p.client.publishAsync(`${r.base}/dev1/relay/set`, 'ON', { qos: 1 });
    await p.waitFor((m) => m.topic === `${r.base}/dev1/relay/set/result`, { what: 'the result' });
    expect(Object.keys(numbers.cache)).toHaveLength(0);
  });
});
