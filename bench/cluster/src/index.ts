/**
 * Cluster benchmark (issue 19, acceptance 5). Everything goes through one mosquitto, each shape
 * against a raw MQTT.js baseline measured in the same run, runs interleaved:
 *  - the cross-gateway command round trip: a host on B submits a command for a device on A
 *    (B's core -> MQTT 5 request -> A's link and core -> driver -> reply -> B), one at a time,
 *    against a raw MQTT 5 request/response pair;
 *  - the state fan-out latency: A's driver reports a value, measured until B's host has it,
 *    one at a time, against a raw QoS 1 publish -> subscriber;
 *  - the state fan-out rate: STATES values from A, as fast as they go, until B's host has them all.
 */
import { createClusterHost } from '@patchbay/cluster';
import { createGateway, defineAdapter, type Gateway, type OutboundEvent } from '@patchbay/core';
import { fmt, median, nowMs, percentile, report, type Figure } from '@patchbay/bench-kit';
import { FakeDriver, Mosquitto } from '@patchbay/testing';
import mqtt, { type MqttClient } from 'mqtt';
import { z } from 'zod';

const ROUND_TRIPS = 500;
const LATENCIES = 500;
const STATES = 5000;
const RUNS = 3;

// The device on A: answers every command with its value; its context reports for the bench.
const device = new FakeDriver('bench');

/** B's host: wakes a waiter on every state it is handed. */
let onState: ((event: OutboundEvent) => void) | undefined;
const benchHost = defineAdapter({
  type: 'bench-host',
  config: z.object({}),
  create: () => ({ start: () => undefined, stop: () => undefined, deliver: (event) => void (event.kind === 'state' && onState?.(event)) }),
});

async function connect(url: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5 });
  (client.stream as { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
  return client;
}

let round = 0;

async function member({ url, cluster, name, withDevice }: { url: string; cluster: string; name: string; withDevice: boolean }): Promise<Gateway> {
  const holder: { gateway?: Gateway } = {};
  const link = createClusterHost({ registry: () => holder.gateway as Gateway, commandTimeoutMs: 5000 });
  const gateway = createGateway({
    name,
    devices: withDevice ? [{ id: 'bench1', definition: device.definition }] : [],
    hosts: [
      ...(withDevice ? [] : [{ id: 'host', definition: benchHost }]),
      { id: 'cluster', definition: link.definition, options: { url, name: cluster, gateway: name } },
    ],
    outbox: { maxPendingReplies: 100_000 },
  });
  holder.gateway = gateway;
  await gateway.start();
  return gateway;
}

async function cluster(url: string): Promise<{ a: Gateway; b: Gateway; stop(): Promise<void> }> {
  const name = `bench${process.pid}x${++round}`;
  const a = await member({ url, cluster: name, name: 'A', withDevice: true });
  const b = await member({ url, cluster: name, name: 'B', withDevice: false });
  device.ctx?.emit('warm', 0);
  // Until A's device is shown on B and answers.
  for (;;) {
    const reply = await b.submit('host', { device: 'bench1', channel: 'relay', value: true });
    if (reply.ok) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { a, b, stop: async () => void (await Promise.all([b.stop({ drainTimeoutMs: 1000 }), a.stop({ drainTimeoutMs: 1000 })])) };
}

async function rawRoundTrips(url: string): Promise<number[]> {
  const topic = `raw${++round}/req`;
  const responder = await connect(url);
  responder.on('message', (_t, payload, packet) => {
    const responseTopic = packet.properties?.responseTopic;
    if (responseTopic) responder.publish(responseTopic, JSON.stringify({ ok: true, value: JSON.parse(payload.toString()) as unknown }), { qos: 1, properties: { correlationData: packet.properties?.correlationData } });
  });
  await responder.subscribeAsync(topic, { qos: 1 });
  const requester = await connect(url);
  const replies = `raw${round}/reply`;
  let pending: ((c: Buffer | undefined) => void) | undefined;
  requester.on('message', (_t, _p, packet) => pending?.(packet.properties?.correlationData));
  await requester.subscribeAsync(replies, { qos: 1 });
  const latencies: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const correlation = Buffer.from(String(i));
    const start = nowMs();
    await new Promise<void>((resolve) => {
      pending = (c) => c?.equals(correlation) && resolve();
      requester.publish(topic, JSON.stringify(i % 2 === 0), { qos: 1, properties: { responseTopic: replies, correlationData: correlation } });
    });
    latencies.push(nowMs() - start);
  }
  await Promise.all([requester.endAsync(), responder.endAsync()]);
  return latencies.sort((x, y) => x - y);
}

async function clusterRoundTrips(url: string): Promise<number[]> {
  const rig = await cluster(url);
  const latencies: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const start = nowMs();
    const reply = await rig.b.submit('host', { device: 'bench1', channel: 'relay', value: i % 2 === 0 });
    if (!reply.ok) throw new Error(`command failed: ${reply.error}`);
    latencies.push(nowMs() - start);
  }
  await rig.stop();
  return latencies.sort((x, y) => x - y);
}

async function rawLatencies(url: string): Promise<number[]> {
  const topic = `raw${++round}/state`;
  const sub = await connect(url);
  let wake: (() => void) | undefined;
  sub.on('message', (_t, _p, packet) => !packet.retain && wake?.());
  await sub.subscribeAsync(topic, { qos: 1 });
  const pub = await connect(url);
  const latencies: number[] = [];
  for (let i = 0; i < LATENCIES; i++) {
    const start = nowMs();
    await new Promise<void>((resolve) => {
      wake = resolve;
      pub.publish(topic, JSON.stringify({ value: i, time: Date.now() }), { qos: 1, retain: true });
    });
    latencies.push(nowMs() - start);
  }
  await Promise.all([sub.endAsync(), pub.endAsync()]);
  return latencies.sort((x, y) => x - y);
}

async function clusterLatencies(url: string): Promise<{ latencies: number[]; rate: number }> {
  const rig = await cluster(url);
  const latencies: number[] = [];
  for (let i = 0; i < LATENCIES; i++) {
    const start = nowMs();
    await new Promise<void>((resolve) => {
      onState = (event) => event.kind === 'state' && event.value === i && resolve();
      device.ctx?.emit('temperature', i);
    });
    latencies.push(nowMs() - start);
  }
  // The rate: each value on its own channel, so nothing is coalesced on the way.
  let seen = 0;
  const start = nowMs();
  const all = new Promise<void>((resolve) => {
    onState = (event) => event.kind === 'state' && event.channel.startsWith('c') && ++seen === STATES && resolve();
  });
  for (let i = 0; i < STATES; i += 100) {
    for (let j = i; j < i + 100; j++) device.ctx?.emit(`c${j}`, j);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await all;
  const rate = STATES / ((nowMs() - start) / 1000);
  onState = undefined;
  await rig.stop();
  return { latencies: latencies.sort((x, y) => x - y), rate };
}

const broker = await Mosquitto.start();
const rtt = { raw50: [] as number[], raw99: [] as number[], our50: [] as number[], our99: [] as number[] };
const fan = { raw50: [] as number[], raw99: [] as number[], our50: [] as number[], our99: [] as number[], rate: [] as number[] };
for (let run = 0; run < RUNS; run++) {
  const r = await rawRoundTrips(broker.url);
  const c = await clusterRoundTrips(broker.url);
  const rl = await rawLatencies(broker.url);
  const cl = await clusterLatencies(broker.url);
  rtt.raw50.push(percentile(r, 50));
  rtt.raw99.push(percentile(r, 99));
  rtt.our50.push(percentile(c, 50));
  rtt.our99.push(percentile(c, 99));
  fan.raw50.push(percentile(rl, 50));
  fan.raw99.push(percentile(rl, 99));
  fan.our50.push(percentile(cl.latencies, 50));
  fan.our99.push(percentile(cl.latencies, 99));
  fan.rate.push(cl.rate);
  console.log(
    `run ${run + 1}: command rtt p50 raw ${fmt(percentile(r, 50))} ms, cluster ${fmt(percentile(c, 50))} ms; p99 raw ${fmt(percentile(r, 99))} ms, cluster ${fmt(percentile(c, 99))} ms; ` +
      `state fan-out p50 raw ${fmt(percentile(rl, 50))} ms, cluster ${fmt(percentile(cl.latencies, 50))} ms; ${fmt(cl.rate)} states/s A -> B`,
  );
}
await broker.close();
const ratio = (raw: number[], ours: number[]) => median(raw) / median(ours);
const figures: Figure[] = [
  { metric: 'cross-gateway command round trip p50 (host on B -> device on A -> reply)', value: median(rtt.our50), unit: 'ms', baseline: median(rtt.raw50), ratio: ratio(rtt.raw50, rtt.our50), note: 'baseline: raw MQTT 5 request/response on the same broker (the same two broker hops)' },
  { metric: 'cross-gateway command round trip p99', value: median(rtt.our99), unit: 'ms', baseline: median(rtt.raw99), ratio: ratio(rtt.raw99, rtt.our99) },
  { metric: 'state fan-out latency A -> host on B, p50', value: median(fan.our50), unit: 'ms', baseline: median(fan.raw50), ratio: ratio(fan.raw50, fan.our50), note: 'baseline: raw QoS 1 retained publish -> subscriber' },
  { metric: 'state fan-out latency p99', value: median(fan.our99), unit: 'ms', baseline: median(fan.raw99), ratio: ratio(fan.raw99, fan.our99) },
  { metric: 'state fan-out rate A -> host on B', value: median(fan.rate), unit: 'states/s', note: `${STATES} values, each on its own channel` },
];
report('cluster', figures, { ratio: ratio(rtt.raw50, rtt.our50), label: 'cross-gateway command round trip p50 vs raw MQTT 5 request/response' });
process.exit(0);
