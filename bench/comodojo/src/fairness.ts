/**
 * Issue 13.8: one large request must not stall everyone. While a Comodojo client sends large
 * requests back to back (a 12.7 MB XML-RPC document, a 20 MB JSON-RPC string parameter, a
 * 50,000-call batch), another device-to-host path is timed end to end, and its p99 is compared
 * with the same path's p99 in the same run while the client sends usual requests back to back.
 * Target: within 2 times the baseline (ratio, baseline / value, >= 0.5). The phases are
 * interleaved over several rounds and each kind's samples pooled.
 *
 * The path is timed from outside the gateway's event loop: a worker thread (its own loop, its
 * own clock) writes a sequence number to a device's TCP socket every 2 ms and reads it back from
 * a host's TCP socket, so a stall anywhere between the device's read and the host's write is
 * counted. (Stamping inside the gateway, at a timer, misses it: the stamp is taken only once
 * the stalled loop gets round to the timer.)
 *
 * The gateway runs in this process, so `npm run bench` starts it with the V8 flags the gateway
 * is started with (`--single-threaded-gc`: see the Dockerfile).
 */
import { createComodojoDefinition, type ComodojoAdapter } from '@patchbay/adapter-comodojo';
import { encodeFrame } from '@patchbay/adapter-comodojo/internal';
import { percentile, report, type Figure } from '@patchbay/bench-kit';
import { createGateway, defineAdapter, defineDriver } from '@patchbay/core';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';

const PHASE_MS = 1500;
/** Rounds of (usual, then each large request): interleaved, so a change in the machine's load hits both sides alike. */
const ROUNDS = 3;
const SEND_EVERY_MS = 2;

/** Serves one connection on an ephemeral port; `onLine` gets each line. */
async function lineServer(onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

// The device: what arrives on its socket (one sequence number a line) is its state.
let emit: ((value: number) => void) | undefined;
const socketDevice = defineDriver({
  type: 'bench-socket-device',
  config: z.object({}),
  create: (_config, ctx) => ({
    start: () => {
      emit = (value) => ctx.emit('seq', value);
    },
    stop: () => (emit = undefined),
    send: () => ({ ok: true }),
  }),
});

// The host: every state delivered to it goes out on its socket, one line each.
let hostSocket: Socket | undefined;
const socketHost = defineAdapter({
  type: 'bench-socket-host',
  config: z.object({}),
  create: () => ({
    start: () => undefined,
    stop: () => undefined,
    deliver: (event) => {
      if (event.kind === 'state' && typeof event.value === 'number') hostSocket?.write(`${event.value}\n`);
    },
  }),
});

/**
 * The timing client, plain JS in a worker thread: on "start" it sends a number every
 * SEND_EVERY_MS ms and times each one's return; on "stop" it posts the sorted round trips.
 */
const probeSource = `
const net = require('node:net');
const { parentPort, workerData } = require('node:worker_threads');
const { devicePort, hostPort, everyMs } = workerData;
const device = net.connect(devicePort, '127.0.0.1');
const host = net.connect(hostPort, '127.0.0.1');
device.setNoDelay(true);
let sentAt = new Map();
let times = [];
let seq = 0;
let timer;
let buffer = '';
host.setEncoding('latin1');
host.on('data', (data) => {
  const now = performance.now();
  buffer += data;
  for (let lf = buffer.indexOf('\\n'); lf >= 0; lf = buffer.indexOf('\\n')) {
    const n = Number(buffer.slice(0, lf));
    buffer = buffer.slice(lf + 1);
    const at = sentAt.get(n);
    if (at !== undefined) { times.push(now - at); sentAt.delete(n); }
  }
});
parentPort.on('message', (msg) => {
  if (msg === 'start') {
    times = []; sentAt = new Map();
    timer = setInterval(() => { seq++; sentAt.set(seq, performance.now()); device.write(seq + '\\n'); }, everyMs);
  } else if (msg === 'stop') {
    clearInterval(timer);
    // What has not come back by now counts as late as the phase is long.
    const now = performance.now();
    for (const at of sentAt.values()) times.push(now - at);
    parentPort.postMessage(times.sort((a, b) => a - b));
  } else if (msg === 'close') { device.destroy(); host.destroy(); parentPort.close(); }
});
parentPort.postMessage('ready');
`;

const big = (bytes: number) => 'x'.repeat(bytes);
const requests = {
  'a 12.7 MB XML-RPC document': encodeFrame({
    content_type: 'text/xml',
    message: `<?xml version="1.0"?><methodCall><methodName>device.state</methodName><params><param><value><array><data>${Array.from({ length: 1270 }, () => `<value><string>${big(10_000)}</string></value>`).join('')}</data></array></value></param></params></methodCall>`,
  }),
  'a 20 MB JSON-RPC string parameter': encodeFrame({ content_type: 'application/json', message: JSON.stringify({ jsonrpc: '2.0', method: 'device.state', params: [big(20 * 1024 * 1024)], id: 1 }) }),
  'a 50,000-call JSON-RPC batch': encodeFrame({ content_type: 'application/json', message: JSON.stringify(Array.from({ length: 50_000 }, (_, id) => ({ jsonrpc: '2.0', method: 'device.list', id }))) }),
};

/**
 * The Comodojo client, plain JS in a worker thread too, so that its own work is not the
 * gateway's (it gets every frame once, before anything is timed: posting a 28 MB string is
 * itself a stall of the posting thread): sends the named frame again and again on one connection (one at a time, each after the
 * previous answer) for `ms`, then posts how many were answered.
 */
const floodSource = `
const net = require('node:net');
const { parentPort, workerData } = require('node:worker_threads');
parentPort.on('message', ({ port, name, ms }) => {
  const frame = workerData.frames[name];
  const deadline = performance.now() + ms;
  const socket = net.connect(port, '127.0.0.1');
  socket.setEncoding('latin1');
  let greeted = false;
  let answered = 0;
  let buffer = '';
  socket.on('data', (data) => {
    buffer += data;
    for (let lf = buffer.indexOf('\\n'); lf >= 0; lf = buffer.indexOf('\\n')) {
      buffer = buffer.slice(lf + 1);
      if (greeted) answered++;
      greeted = true;
      if (performance.now() >= deadline) {
        socket.destroy();
        parentPort.postMessage(answered);
        return;
      }
      socket.write(frame);
    }
  });
  socket.on('error', (error) => parentPort.postMessage(-1));
});
`;

/** Floods the gateway with the frame named `name` from the client worker for a phase; resolves with the count answered. */
function flood(client: Worker, port: number, name: string): Promise<number> {
  const answered = new Promise<number>((resolve) => client.once('message', resolve));
  client.postMessage({ port, name, ms: PHASE_MS });
  return answered;
}

/** Runs `run` while the probe times the device-to-host path; returns the sorted round trips, ms. */
async function phase(probe: Worker, run: () => Promise<unknown>): Promise<number[]> {
  const times = new Promise<number[]>((resolve) => probe.once('message', resolve));
  probe.postMessage('start');
  await run();
  probe.postMessage('stop');
  return times;
}

async function main(): Promise<void> {
  const base = createComodojoDefinition();
  let adapter: ComodojoAdapter | undefined;
  const definition = { ...base, create: ((config, ctx) => (adapter = base.create(config, ctx) as ComodojoAdapter)) as typeof base.create };
  const gateway = createGateway({
    devices: [{ id: 'ticker', definition: socketDevice }],
    // Limits raised so that every large request is parsed, not refused: the worst case for the others.
    hosts: [
      { id: 'rpc', definition, options: { socket: 'tcp://127.0.0.1:0', maxFrameBytes: 48 * 1024 * 1024, maxBufferedBytes: 256 * 1024 * 1024 } },
      { id: 'other', definition: socketHost },
    ],
  });
  await gateway.start();
  const deviceEnd = await lineServer((socket) => {
    let buffer = '';
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => {
      buffer += data;
      for (let lf = buffer.indexOf('\n'); lf >= 0; lf = buffer.indexOf('\n')) {
        emit?.(Number(buffer.slice(0, lf)));
        buffer = buffer.slice(lf + 1);
      }
    });
  });
  const hostEnd = await lineServer((socket) => {
    socket.setNoDelay(true);
    hostSocket = socket;
  });
  const probe = new Worker(probeSource, { eval: true, workerData: { devicePort: deviceEnd.port, hostPort: hostEnd.port, everyMs: SEND_EVERY_MS } });
  await new Promise((resolve) => probe.once('message', resolve));
  const small = encodeFrame({ content_type: 'application/json', message: JSON.stringify({ jsonrpc: '2.0', method: 'device.state', params: ['ticker'], id: 1 }) });
  const client = new Worker(floodSource, { eval: true, workerData: { frames: { ...requests, small } } });
  // A second Comodojo client with usual requests only, on its own connection, in every phase:
  // its rate while the first sends large requests, against its rate alone (the unloaded rate).
  const bystander = new Worker(floodSource, { eval: true, workerData: { frames: { small } } });
  const port = Number(/:(\d+)$/.exec(adapter?.address() ?? '')?.[1]);
  const idle = () => new Promise((resolve) => setTimeout(resolve, PHASE_MS));
  await phase(probe, idle); // warm-up
  // Each large kind for a phase before anything is timed: the decode worker's start (here from
  // the TypeScript sources, through tsx) and its decoders' first compilation are not what a
  // large request costs once the gateway runs.
  for (const kind of Object.keys(requests)) await flood(client, port, kind);
  const quiet = await phase(probe, idle);
  let alone = 0;
  const bystanding = async (run: () => Promise<unknown>): Promise<number> => (await Promise.all([flood(bystander, port, 'small'), run()]))[0];
  // The baseline: the same client busy with usual requests back to back, so that what is
  // compared is the size of one request, not whether a client is there at all.
  const kinds = ['small', ...Object.keys(requests)];
  const samples = new Map<string, { times: number[]; answered: number; bystander: number }>(kinds.map((kind) => [kind, { times: [], answered: 0, bystander: 0 }]));
  for (let round = 0; round < ROUNDS; round++) {
    // Timed by the probe too (times unused), so that the probe's own load is the same in every phase.
    await phase(probe, async () => {
      alone += await bystanding(idle);
    });
    for (const kind of kinds) {
      const into = samples.get(kind) as { times: number[]; answered: number; bystander: number };
      const times = await phase(probe, async () => {
        into.bystander += await bystanding(async () => {
          into.answered += await flood(client, port, kind);
        });
      });
      into.times.push(...times);
    }
  }
  for (const { times } of samples.values()) times.sort((a, b) => a - b);
  const baseline = samples.get('small') as { times: number[]; answered: number };
  const baseP99 = percentile(baseline.times, 99);
  const figures: Figure[] = [
    { metric: 'device-to-host round trip p99 (worker-timed), Comodojo idle', value: percentile(quiet, 99), unit: 'ms', note: `${quiet.length} round trips` },
    {
      metric: 'device-to-host p99 while Comodojo answers usual requests back to back (the baseline)',
      value: baseP99,
      unit: 'ms',
      note: `${baseline.answered} answered; p50 ${percentile(baseline.times, 50).toFixed(2)} ms; ${baseline.times.length} round trips`,
    },
  ];
  let worst = Number.POSITIVE_INFINITY;
  let worstRate = Number.POSITIVE_INFINITY;
  for (const what of Object.keys(requests)) {
    const { times: during, answered } = samples.get(what) as { times: number[]; answered: number };
    const p99 = percentile(during, 99);
    const ratio = baseP99 / p99;
    worst = Math.min(worst, ratio);
    figures.push({
      metric: `device-to-host p99 while Comodojo parses ${what} back to back`,
      value: p99,
      unit: 'ms',
      baseline: baseP99,
      ratio,
      target: 'within 2x the baseline (>= 0.5x)',
      pass: ratio >= 0.5,
      note: `${answered} answered; p50 ${percentile(during, 50).toFixed(2)} ms; max ${(during.at(-1) ?? 0).toFixed(1)} ms`,
    });
  }
  figures.push({ metric: 'a second Comodojo client, usual requests back to back, alone (its unloaded rate)', value: alone / ((ROUNDS * PHASE_MS) / 1000), unit: 'calls/s' });
  for (const what of Object.keys(requests)) {
    const { bystander: answered } = samples.get(what) as { bystander: number };
    const ratio = answered / alone;
    worstRate = Math.min(worstRate, ratio);
    figures.push({
      metric: `the second client's rate while the first sends ${what} back to back`,
      value: answered / ((ROUNDS * PHASE_MS) / 1000),
      unit: 'calls/s',
      baseline: alone / ((ROUNDS * PHASE_MS) / 1000),
      ratio,
      target: '>= 0.5x its unloaded rate',
      pass: ratio >= 0.5,
    });
  }
  probe.postMessage('close');
  await client.terminate();
  await bystander.terminate();
  await gateway.stop();
  deviceEnd.server.close();
  hostEnd.server.close();
  report('comodojo-fairness', figures, { ratio: Math.min(worst, worstRate), label: 'the worse of: device-to-host p99 during the worst large request vs usual requests; a second client\'s rate during it vs alone' });
}

void main();
