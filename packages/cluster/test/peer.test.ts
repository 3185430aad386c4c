import mqtt, { type MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { clusterName, eventsOf, startMember, useBroker } from './rig.js';

const { broker: mosquitto, cleanups } = useBroker();

/** A gateway played by hand with a raw MQTT 5 client: the topics and payloads, nothing else. */
async function fakeGateway(cluster: string, name: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(mosquitto().url, { protocolVersion: 5, will: { topic: `${cluster}/${name}/status`, payload: Buffer.from('offline'), qos: 1, retain: true } });
  cleanups.push(() => client.endAsync());
  await client.publishAsync(`${cluster}/${name}/status`, 'online', { qos: 1, retain: true, properties: { userProperties: { boot: 'b1' } } });
  return client;
}

/** Gateway B, and a hand-played gateway X announcing `meter1`, once B shows it online. */
async function meterOnB() {
  const cluster = clusterName();
  const b = await startMember({ url: mosquitto().url, cluster, name: 'B' });
  cleanups.push(() => b.stop());
  const x = await fakeGateway(cluster, 'X');
  await x.publishAsync(`${cluster}/X/meter1/description`, JSON.stringify({ description, since: 1 }), { qos: 1, retain: true });
  await b.host.waitFor((e) => e.kind === 'availability' && e.device === 'meter1' && e.availability === 'online', { timeoutMs: 10_000, what: 'meter1 online on B' });
  return { cluster, b, x };
}

const description = { name: 'Meter', channels: { power: { kind: 'number', unit: 'W' }, button: { kind: 'event' } } };

describe('cluster - what another gateway publishes', () => {
  it('cluster peer - two values in one millisecond both arrive; an older one and a repeat do not; a repeated event id is one event (19.3, 19.5)', async () => {
    const { cluster, b, x } = await meterOnB();
    const state = (value: number, time: number) => x.publishAsync(`${cluster}/X/meter1/state/power`, JSON.stringify({ value, time }), { qos: 1, retain: true });
    await state(100, 5000);
    await state(101, 5000);
    await state(99, 4000);
    await state(101, 5000);
    const event = JSON.stringify({ id: '0000000010000abcd', value: 'single', time: 5000 });
    await x.publishAsync(`${cluster}/X/meter1/event/button`, event, { qos: 1 });
    await x.publishAsync(`${cluster}/X/meter1/event/button`, event, { qos: 1 });
    await state(102, 6000);
    await b.host.waitFor((e) => e.kind === 'state' && e.device === 'meter1' && e.value === 102, { timeoutMs: 10_000, what: 'the last value on B' });
    expect(eventsOf(b.host, 'state', 'meter1').map((e) => e.value)).toEqual([100, 101, 102]);
    expect(eventsOf(b.host, 'momentary', 'meter1').map((e) => e.value)).toEqual(['single']);
  });

  it('cluster peer - malformed messages from another gateway are refused with one warning per topic; the link keeps serving (19.3)', async () => {
    const { cluster, b, x } = await meterOnB();
    for (const bad of ['not json', Buffer.from([0xff, 0xfe]), JSON.stringify({ value: 1 }), '['.repeat(5000), 'x'.repeat(300 * 1024)]) {
      await x.publishAsync(`${cluster}/X/meter1/state/power`, bad, { qos: 1 });
    }
    await x.publishAsync(`${cluster}/X/other/description`, JSON.stringify({ description: { name: 'no channels' }, since: 1 }), { qos: 1 });
    await x.publishAsync(`${cluster}/X/meter1/state/power`, JSON.stringify({ value: 7, time: 1 }), { qos: 1 });
    await b.host.waitFor((e) => e.kind === 'state' && e.device === 'meter1' && e.value === 7, { timeoutMs: 10_000, what: 'a good value after the bad ones' });
    expect(b.log.find(/meter1\/state\/power" is refused \(PB302_EVENT_REJECTED\)/, 'warn')).toHaveLength(1);
    expect(b.log.find(/other\/description" is refused/, 'warn')).toHaveLength(1);
    expect(b.host.ctx?.devices().map((d) => d.id)).toEqual(['meter1']);
  });
});
