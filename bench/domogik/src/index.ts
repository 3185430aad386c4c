/**
 * Domogik benchmark (PERFORMANCE.md): `client.sensor` publications per second through the
 * embedded forwarder, and `client.cmd` round trips per second through the embedded broker to
 * the gateway's worker and the simulated device, each next to raw zeromq of the same shape
 * (PUB→SUB, REQ→REP) measured in the same run. Loopback only, bounded to well under a minute.
 */
import { createServer } from 'node:net';
import { median, nowMs, report, type Figure } from '@patchbay/bench-kit';
import { createGateway, silentLogger } from '@patchbay/core';
import domogikAdapter, { type DomogikConfig } from '@patchbay/adapter-domogik';
import { DomogikPlugin, DomogikPublisher, DomogikSubscriber, EmbeddedBus, type JsonObject } from '@patchbay/adapter-domogik/internal';
import simDriver from '@patchbay/driver-sim';
import { Publisher, Reply, Request, Subscriber } from 'zeromq';

const ROUNDS = 3;
const PUB_MS = 1500;
const RT_MS = 1500;
const noCounter = { inc: () => undefined };

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Process CPU (every thread: the client, the broker, the gateway, zeromq's I/O threads) in µs since `since`. */
const cpuSince = (since: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(since);
  return used.user + used.system;
};

interface PubSubResult {
  rate: number;
  sent: number;
  got: number;
  /** Process CPU per message received, in µs. */
  cpuUs: number;
}

/** Sends for PUB_MS, then waits until the receiver has been quiet for 200 ms; rate = received / (last receipt - start). */
async function pubSubRate(send: () => Promise<void>, received: () => number, lastAt: () => number): Promise<PubSubResult> {
  const cpu = process.cpuUsage();
  const start = nowMs();
  let sent = 0;
  while (nowMs() - start < PUB_MS) {
    await send();
    sent++;
    if ((sent & 255) === 0) await tick();
  }
  let seen = -1;
  while (seen !== received()) {
    seen = received();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { rate: received() / ((lastAt() - start) / 1000), sent, got: received(), cpuUs: cpuSince(cpu) / received() };
}

const sensorPayload = JSON.stringify({ '57': 21.5, atTimestamp: 1_700_000_000 });

async function rawPubSub(): Promise<PubSubResult> {
  const port = await freePort();
  const sub = new Subscriber({ linger: 0, receiveHighWaterMark: 100_000 });
  await sub.bind(`tcp://127.0.0.1:${port}`);
  sub.subscribe('client.sensor');
  const pub = new Publisher({ linger: 0, sendHighWaterMark: 100_000 });
  pub.connect(`tcp://127.0.0.1:${port}`);
  await new Promise((resolve) => setTimeout(resolve, 300)); // slow joiner
  let got = 0;
  let lastAt = 0;
  const loop = (async () => {
    for await (const [id, json] of sub) {
      if (id && json) got++;
      lastAt = nowMs();
    }
  })().catch(() => undefined);
  const result = await pubSubRate(() => pub.send(['client.sensor.1700000000_000001.0_1', sensorPayload]), () => got, () => lastAt);
  pub.close();
  sub.close();
  await loop;
  return result;
}

async function oursPubSub(): Promise<PubSubResult> {
  const bus = new EmbeddedBus({ reqRepPort: 0, pubPort: 0, subPort: 0 });
  const ports = await bus.start();
  let got = 0;
  let lastAt = 0;
  const sub = new DomogikSubscriber({
    endpoint: `tcp://127.0.0.1:${ports.subPort}`,
    categories: ['client.sensor'],
    logger: silentLogger,
    badMessages: noCounter,
    maxMessageBytes: 1024 * 1024,
    onMessage: (_category, data) => {
      if (data['57'] !== undefined) got++;
      lastAt = nowMs();
    },
  });
  sub.start();
  const pub = new DomogikPublisher({ endpoint: `tcp://127.0.0.1:${ports.pubPort}`, joinDelayMs: 300 });
  pub.start();
  await pub.whenReady();
  let value = 0;
  const result = await pubSubRate(
    () => pub.publish('client.sensor', { '57': (value = (value + 0.5) % 40), atTimestamp: 1_700_000_000 } as JsonObject),
    () => got,
    () => lastAt,
  );
  pub.close();
  await sub.close();
  await bus.stop();
  return result;
}

interface RoundTrips {
  rate: number;
  /** Process CPU per round trip, in µs. */
  cpuUs: number;
}

/**
 * Sequential round trips for RT_MS on one REQ socket. The CPU per round trip is printed beside
 * the rate because on this machine the rate alone swings with the host's scheduling (a slow
 * mode where the raw baseline drops fourfold too), while the CPU each round trip costs moves less.
 */
async function roundTrips(socket: Request, frames: () => string[]): Promise<RoundTrips> {
  const cpu = process.cpuUsage();
  const start = nowMs();
  let n = 0;
  while (nowMs() - start < RT_MS) {
    await socket.send(frames());
    await socket.receive();
    n++;
  }
  return { rate: n / ((nowMs() - start) / 1000), cpuUs: cpuSince(cpu) / n };
}

async function rawReqRep(): Promise<RoundTrips> {
  const port = await freePort();
  const rep = new Reply({ linger: 0 });
  await rep.bind(`tcp://127.0.0.1:${port}`);
  const server = (async () => {
    for await (const frames of rep) await rep.send(['MDPC01', 'svc', 'client.cmd.result', `{"status": true, "reason": null, "n": ${frames.length}}`]);
  })().catch(() => undefined);
  const req = new Request({ linger: 0 });
  req.connect(`tcp://127.0.0.1:${port}`);
  const result = await roundTrips(req, () => ['MDPC01', 'svc', 'client.cmd', '{"command_id": 80, "device_id": 8, "value": "1"}']);
  req.close();
  rep.close();
  await server;
  return result;
}

async function oursReqRep(socketWorker: boolean): Promise<RoundTrips> {
  const [reqRepPort, pubPort, subPort] = [await freePort(), await freePort(), await freePort()];
  const gateway = createGateway({
    devices: [{ id: 'thermo1', definition: simDriver, options: { interval: 3_600_000 } }],
    hosts: [
      {
        id: 'domogik',
        // socketWorker: the plugin registers an MDP worker over inproc instead of the broker's in-process call.
        definition: { ...domogikAdapter, create: (config, ctx) => new DomogikPlugin(config as DomogikConfig, ctx, { socketWorker }) },
        options: { bus: 'embedded', reqRepPort, pubPort, subPort, host: 'bench', configService: 'none', sensors: { 'thermo1.relay': 59 }, commands: { 'thermo1.relay': 80 } },
      },
    ],
  });
  await gateway.start();
  const endpoint = `tcp://127.0.0.1:${reqRepPort}`;
  const probe = async () => {
    const s = new Request({ linger: 0, receiveTimeout: 1000 });
    s.connect(endpoint);
    await s.send(['MDPC01', 'mmi.service', 'plugin-patchbay.bench']);
    const [, , code] = await s.receive();
    s.close();
    return code?.toString();
  };
  while ((await probe()) !== '200') await new Promise((resolve) => setTimeout(resolve, 50));
  const req = new Request({ linger: 0 });
  req.connect(endpoint);
  let v = 0;
  // xplgw's framing (§5.2), with the relay toggled so every command changes state and publishes it.
  const result = await roundTrips(req, () => ['MDPC01', 'plugin-patchbay.bench', '10', 'client.cmd', `{"command_id": 80, "device_id": 8, "value": "${v++ % 2}"}`]);
  req.close();
  await gateway.stop({ drainTimeoutMs: 500 });
  return result;
}

async function main(): Promise<void> {
  const raw = { ps: [] as number[], rr: [] as number[], psCpu: [] as number[], rrCpu: [] as number[] };
  const ours = { ps: [] as number[], rr: [] as number[], worker: [] as number[], psCpu: [] as number[], rrCpu: [] as number[] };
  let drops = '';
  for (let round = 0; round < ROUNDS; round++) {
    const r = await rawPubSub();
    const o = await oursPubSub();
    raw.ps.push(r.rate);
    ours.ps.push(o.rate);
    raw.psCpu.push(r.cpuUs);
    ours.psCpu.push(o.cpuUs);
    drops = `last round: raw ${r.got}/${r.sent} received, ours ${o.got}/${o.sent}`;
    // Interleaved so that load from elsewhere on the machine hits both sides alike.
    const rawRr = await rawReqRep();
    const oursRr = await oursReqRep(false);
    raw.rr.push(rawRr.rate);
    ours.rr.push(oursRr.rate);
    raw.rrCpu.push(rawRr.cpuUs);
    ours.rrCpu.push(oursRr.cpuUs);
    ours.worker.push((await oursReqRep(true)).rate);
  }
  const ps = { value: median(ours.ps), baseline: median(raw.ps) };
  const rr = { value: median(ours.rr), baseline: median(raw.rr) };
  const psRatio = ps.value / ps.baseline;
  const rrRatio = rr.value / rr.baseline;
  const viaWorker = median(ours.worker);
  const psCpu = { value: median(ours.psCpu), baseline: median(raw.psCpu) };
  const rrCpu = { value: median(ours.rrCpu), baseline: median(raw.rrCpu) };
  const figures: Figure[] = [
    {
      metric: 'client.sensor publications, PUB -> embedded forwarder -> SUB (DomogikPublisher/DomogikSubscriber)',
      value: ps.value,
      unit: 'msg/s',
      baseline: ps.baseline,
      ratio: psRatio,
      target: '>= 0.5x raw zeromq PUB->SUB',
      pass: psRatio >= 0.5,
      note: `median of ${ROUNDS}; ${drops}`,
    },
    {
      metric: 'client.cmd round trips, REQ -> embedded broker -> gateway worker -> sim device -> reply',
      value: rr.value,
      unit: 'rt/s',
      baseline: rr.baseline,
      ratio: rrRatio,
      target: '>= 0.5x raw zeromq REQ->REP',
      pass: rrRatio >= 0.5,
      note: `median of ${ROUNDS}, one client, sequential; the broker calls the plugin in-process`,
    },
    {
      metric: 'client.cmd round trips, same path but through the plugin\'s MDP worker socket (inproc) as on an external bus',
      value: viaWorker,
      unit: 'rt/s',
      baseline: rr.baseline,
      ratio: viaWorker / rr.baseline,
      note: 'informational: what the worker role costs',
    },
    // Ratios are baseline / ours, so that higher is better as for the rates.
    {
      metric: 'client.sensor CPU per publication received (whole process)',
      value: psCpu.value,
      unit: 'µs',
      baseline: psCpu.baseline,
      ratio: psCpu.baseline / psCpu.value,
      note: `informational, median of ${ROUNDS}: steadier than the rate when the machine's scheduling swings`,
    },
    {
      metric: 'client.cmd CPU per round trip (whole process: client, broker, gateway, zeromq threads)',
      value: rrCpu.value,
      unit: 'µs',
      baseline: rrCpu.baseline,
      ratio: rrCpu.baseline / rrCpu.value,
      note: `informational, median of ${ROUNDS}: steadier than the rate when the machine's scheduling swings`,
    },
  ];
  const headline = Math.min(psRatio, rrRatio);
  report('domogik', figures, { ratio: headline, label: 'worse of pub/sub and req/rep ratios to raw zeromq' });
}

await main();
process.exit(0);
