/**
 * MQTT adapter benchmark (issue 17, item 7). Both shapes go through the same mosquitto, each
 * against a raw MQTT.js baseline measured in the same run, runs interleaved:
 *  - state publishing: one device reports EVENTS values (each on its own channel, so nothing is
 *    coalesced) through the core and the adapter -> mosquitto -> a subscriber, against a raw
 *    MQTT.js client publishing the same topics and payloads (QoS 1, retained) in the same chunks;
 *  - MQTT 5 command round trip: a requester publishes a command with a response topic and
 *    correlation data and waits for the reply, one at a time, through the adapter, the core and
 *    a driver, against a raw MQTT.js responder answering on the response topic.
 */
import { randomBytes } from 'node:crypto';
import { createGateway, defineDriver, type DriverContext } from '@patchbay/core';
import mqttAdapter from '@patchbay/adapter-mqtt';
import { fmt, median, nowMs, percentile, report, type Figure } from '@patchbay/bench-kit';
import mqtt, { type MqttClient } from 'mqtt';
import { z } from 'zod';
import { startMosquitto } from './mosquitto.js';

const EVENTS = 20_000;
const CHUNK = 200;
const ROUND_TRIPS = 1_000;
const RUNS = 3;

let driverCtx: DriverContext | undefined;
const benchDriver = defineDriver({
  type: 'bench',
  config: z.object({}),
  create: (_config, ctx) => ({
    start: () => {
      driverCtx = ctx;
    },
    stop: () => undefined,
    send: (command) => ({ ok: true, value: command.value ?? null }),
  }),
});

let round = 0;

/** MQTT.js leaves Nagle's algorithm on; the adapter turns it off, and so does the baseline. */
async function connect(url: string, options: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, ...options });
  (client.stream as { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
  return client;
}

async function subscriber(url: string, filter: string): Promise<{ client: MqttClient; waitCount(n: number): Promise<void> }> {
  const client = await connect(url);
  let count = 0;
  let wake: (() => void) | undefined;
  client.on('message', (_topic, _payload, packet) => {
    if (packet.retain) return;
    count++;
    wake?.();
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return {
    client,
    waitCount: (n) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (count >= n) {
            wake = undefined;
            resolve();
          }
        };
        wake = check;
        check();
      }),
  };
}

/** Emits in chunks, yielding between them; states/s until the subscriber has every one. */
async function pump(emit: (i: number) => void, waitCount: (n: number) => Promise<void>): Promise<number> {
  const start = nowMs();
  for (let i = 0; i < EVENTS; i += CHUNK) {
    for (let j = i; j < i + CHUNK; j++) emit(j);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await waitCount(EVENTS);
  return EVENTS / ((nowMs() - start) / 1000);
}

async function rawPublishing(url: string): Promise<number> {
  const base = `raw${++round}`;
  const sub = await subscriber(url, `${base}/bench1/+`);
  const pub = await connect(url, { clean: false, clientId: `raw-pub-${round}` });
  const rate = await pump((i) => pub.publish(`${base}/bench1/c${i}`, String(20 + (i % 100) / 10), { qos: 1, retain: true }), sub.waitCount);
  await pub.endAsync();
  await sub.client.endAsync();
  return rate;
}

async function gatewayRig(url: string): Promise<{ base: string; stop(): Promise<void> }> {
  const base = `gw${++round}`;
  const gateway = createGateway({
    devices: [{ id: 'bench1', definition: benchDriver }],
    hosts: [{ id: 'mqtt', definition: mqttAdapter, options: { url, baseTopic: base, clientId: `bench-gw-${round}`, discovery: { enabled: false } } }],
    outbox: { maxPendingReplies: 100_000 },
  });
  await gateway.start();
  return { base, stop: () => gateway.stop({ drainTimeoutMs: 2000 }) };
}

async function gatewayPublishing(url: string): Promise<number> {
  const rig = await gatewayRig(url);
  const sub = await subscriber(url, `${rig.base}/bench1/+`);
  const rate = await pump((i) => driverCtx?.emit(`c${i}`, 20 + (i % 100) / 10), sub.waitCount);
  await sub.client.endAsync();
  await rig.stop();
  return rate;
}

/** Sequential MQTT 5 requests on `topic`; latencies in ms, sorted. */
async function roundTrips(url: string, topic: string): Promise<number[]> {
  const client = await connect(url);
  const replyTopic = `replies/${randomBytes(6).toString('hex')}`;
  let pending: ((correlation: Buffer | undefined) => void) | undefined;
  client.on('message', (_t, _p, packet) => pending?.(packet.properties?.correlationData));
  await client.subscribeAsync(replyTopic, { qos: 1 });
  const latencies: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const correlation = Buffer.from(String(i));
    const start = nowMs();
    await new Promise<void>((resolve) => {
      pending = (c) => c?.equals(correlation) && resolve();
      client.publish(topic, i % 2 === 0 ? 'ON' : 'OFF', { qos: 1, properties: { responseTopic: replyTopic, correlationData: correlation } });
    });
    latencies.push(nowMs() - start);
  }
  await client.endAsync();
  return latencies.sort((a, b) => a - b);
}

async function rawRoundTrips(url: string): Promise<number[]> {
  const base = `raw${++round}`;
  const responder = await connect(url);
  responder.on('message', (_topic, payload, packet) => {
    const responseTopic = packet.properties?.responseTopic;
    if (responseTopic === undefined) return;
    const value = payload.toString() === 'ON';
    responder.publish(responseTopic, JSON.stringify({ ok: true, value }), { qos: 1, properties: { correlationData: packet.properties?.correlationData } });
  });
  await responder.subscribeAsync(`${base}/+/+/set`, { qos: 1, nl: true });
  const latencies = await roundTrips(url, `${base}/bench1/relay/set`);
  await responder.endAsync();
  return latencies;
}

async function gatewayRoundTrips(url: string): Promise<number[]> {
  const rig = await gatewayRig(url);
  const latencies = await roundTrips(url, `${rig.base}/bench1/relay/set`);
  await rig.stop();
  return latencies;
}

const broker = await startMosquitto();
const raw: number[] = [];
const ours: number[] = [];
const rtt = { raw50: [] as number[], raw99: [] as number[], our50: [] as number[], our99: [] as number[] };
for (let run = 0; run < RUNS; run++) {
  raw.push(await rawPublishing(broker.url));
  ours.push(await gatewayPublishing(broker.url));
  const r = await rawRoundTrips(broker.url);
  const g = await gatewayRoundTrips(broker.url);
  rtt.raw50.push(percentile(r, 50));
  rtt.raw99.push(percentile(r, 99));
  rtt.our50.push(percentile(g, 50));
  rtt.our99.push(percentile(g, 99));
  console.log(`run ${run + 1}: publishing raw ${fmt(raw[run] as number)}/s, gateway ${fmt(ours[run] as number)}/s; rtt p50 raw ${fmt(rtt.raw50[run] as number)} ms, gateway ${fmt(rtt.our50[run] as number)} ms; p99 raw ${fmt(rtt.raw99[run] as number)} ms, gateway ${fmt(rtt.our99[run] as number)} ms`);
}
await broker.stop();
const pubRatio = median(ours) / median(raw);
const p50Ratio = median(rtt.raw50) / median(rtt.our50);
const p99Ratio = median(rtt.raw99) / median(rtt.our99);
const figures: Figure[] = [
  { metric: 'state publishing, gateway -> mosquitto -> subscriber (QoS 1, retained)', value: median(ours), unit: 'states/s', baseline: median(raw), ratio: pubRatio, target: '>= 0.8x', pass: pubRatio >= 0.8, note: `median of ${RUNS}; baseline: raw MQTT.js publisher, same topics and payloads` },
  { metric: 'MQTT 5 command round trip p50', value: median(rtt.our50), unit: 'ms', baseline: median(rtt.raw50), ratio: p50Ratio, target: '>= 0.7x', pass: p50Ratio >= 0.7, note: 'baseline: raw MQTT.js request/response pair on the same broker' },
  { metric: 'MQTT 5 command round trip p99', value: median(rtt.our99), unit: 'ms', baseline: median(rtt.raw99), ratio: p99Ratio, target: '>= 0.7x', pass: p99Ratio >= 0.7 },
];
report('mqtt', figures, { ratio: pubRatio, label: 'state publishing vs raw MQTT.js' });
process.exit(0);
