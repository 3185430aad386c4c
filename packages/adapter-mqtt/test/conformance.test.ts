import { describeHostAdapterConformance, Mosquitto, type HostPeer } from '@patchbay/testing';
import { afterAll, beforeAll } from 'vitest';
import mqttAdapter from '../src/index.js';
import { Peer } from './peer.js';

let broker: Mosquitto;
beforeAll(async () => {
  broker = await Mosquitto.start();
});
afterAll(async () => {
  await broker?.close();
});

let round = 0;

// goDown/comeBack stop and restart the broker itself: the adapter's deliveries fail meanwhile,
// the outbox keeps the latest state, and the adapter republishes it when it is back.
describeHostAdapterConformance('mqtt', {
  definition: mqttAdapter,
  options: () => {
    round++;
    return { url: broker.url, baseTopic: `conf${round}`, clientId: `conformance-${round}`, reconnectMs: 200, discovery: { enabled: false } };
  },
  timeoutMs: 10_000,
  async connect({ options }): Promise<HostPeer> {
    const base = (options as { baseTopic: string }).baseTopic;
    const peer = await Peer.open(broker.url, [`${base}/#`]);
    const decode = (text: string): unknown => (text === 'ON' ? true : text === 'OFF' ? false : Number.isNaN(Number(text)) ? text : Number(text));
    return {
      async waitForState({ device, channel, accept = () => true, timeoutMs }) {
        const text = await peer.waitLatest(`${base}/${device}/${channel}`, (t) => accept(decode(t)), timeoutMs);
        return decode(text);
      },
      async command({ device, channel, value }) {
        const reply = await peer.request(`${base}/${device}/${channel}/set`, typeof value === 'boolean' ? (value ? 'ON' : 'OFF') : JSON.stringify(value));
        return { ok: reply.ok === true, value: reply.value, error: reply.error };
      },
      goDown: () => broker.down(),
      comeBack: () => broker.up(),
      close: () => peer.close(),
    };
  },
});
