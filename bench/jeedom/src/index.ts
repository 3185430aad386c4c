/**
 * bench/jeedom: the Jeedom adapter next to raw loopback baselines measured in the same run
 * (PERFORMANCE.md): commands per second through the command socket (one JSON per
 * connection) vs raw TCP connect-write-close into a Node server; state changes per second to
 * the callback in immediate mode vs raw keep-alive POSTs from node:http; and the command
 * pickup latency (socket → driver) vs the raw connect-write-close latency.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, watch } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import jeedom, { type JeedomAdapter } from '@patchbay/adapter-jeedom';
import { median, nowMs, percentile, report, type Figure } from '@patchbay/bench-kit';
import { createGateway, defineDriver, type DriverContext, type Gateway } from '@patchbay/core';
import { z } from 'zod';

const APIKEY = 'benchBenchBenchBenchBenchBench0123456789';
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** Rounds alternate raw and gateway so the drift of a shared 2-core machine hits both alike. */
const ROUNDS = 12;
const INTAKE_PER_ROUND = 1000;
const SENDERS = 8;
const POSTS_PER_ROUND = 400;
const LATENCY_PER_ROUND = 200;

/** A gateway with a driver that answers at once and tells the bench when a command arrived. */
async function benchGateway(options: Record<string, unknown>): Promise<{ gateway: Gateway; onCommand: (fn: () => void) => void; emit: (channel: string, value: number) => void; port: number }> {
  let ctx: DriverContext | undefined;
  let listener: () => void = () => undefined;
  let adapter: JeedomAdapter | undefined;
  const driver = defineDriver({
    type: 'bench-driver',
    config: z.object({}),
    create: (_config, c) => ({
      start: () => {
        ctx = c;
      },
      stop: () => undefined,
      send: (command) => {
        listener();
        return { ok: true, value: command.value ?? null };
      },
    }),
  });
  const host = { ...jeedom, create: (config: Parameters<typeof jeedom.create>[0], c: Parameters<typeof jeedom.create>[1]) => (adapter = jeedom.create(config, c) as JeedomAdapter) };
  const gateway = createGateway({
    devices: [{ id: 'dev1', definition: driver }],
    hosts: [{ id: 'jeedom', definition: host, options: { socketPort: 0, apikey: APIKEY, ...options } }],
  });
  await gateway.start();
  return {
    gateway,
    onCommand: (fn) => (listener = fn),
    emit: (channel, value) => (ctx as DriverContext).emit(channel, value),
    port: adapter?.port as number,
  };
}

/** One connection: connect, write, close; resolves when the server closed its side. */
function connectWriteClose(port: number, payload: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.end(payload));
    socket.on('error', reject);
    socket.on('close', () => resolve());
    socket.resume();
  });
}

function counter(target: number): { hit: () => void; done: Promise<void> } {
  let n = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  return {
    hit: () => {
      if (++n === target) resolve();
    },
    done,
  };
}

/**
 * The senders run in a worker thread, as Jeedom's PHP runs in its own process: each of
 * `SENDERS` loops connect, write one JSON, close. Plain JS so the worker needs no loader.
 */
const senderSource = `
const net = require('node:net');
const { parentPort } = require('node:worker_threads');
parentPort.on('message', async ({ port, count, senders, apikey }) => {
  let next = 0;
  const one = (payload) => new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.end(payload));
    socket.on('error', reject);
    socket.on('close', resolve);
    socket.resume();
  });
  const sender = async () => {
    while (next < count) {
      const i = next++;
      await one(JSON.stringify({ action: 'command', device: 'dev1', channel: 'relay', value: i % 2 === 0, id: String(i), apikey }));
    }
  };
  await Promise.all(Array.from({ length: senders }, sender));
  parentPort.postMessage('sent');
});
`;
const worker = new Worker(senderSource, { eval: true });
worker.unref();

/** `count` messages from the sender thread; the rate once the receiver has them all. */
async function blast(port: number, count: number, arm: (hit: () => void) => void): Promise<number> {
  const c = counter(count);
  arm(c.hit);
  const sent = new Promise<void>((resolve) => worker.once('message', () => resolve()));
  const start = nowMs();
  worker.postMessage({ port, count, senders: SENDERS, apikey: APIKEY });
  await Promise.all([sent, c.done]);
  return count / ((nowMs() - start) / 1000);
}

/** Raw: a Node TCP server that reads each connection to EOF and parses the JSON. */
async function rawTcpServer(): Promise<{ port: number; onMessage: (fn: () => void) => void; close: () => Promise<void> }> {
  let listener: () => void = () => undefined;
  const server = net.createServer((socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      listener();
      socket.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    onMessage: (fn) => (listener = fn),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A callback server that counts the state changes it receives. */
async function callbackServer(): Promise<{ url: string; onChanges: (fn: (n: number) => void) => void; close: () => Promise<void> }> {
  let listener: (n: number) => void = () => undefined;
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      if (req.method === 'POST') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { devices?: Record<string, Record<string, unknown>> };
        let n = 0;
        for (const channels of Object.values(body.devices ?? {})) n += Object.keys(channels).length;
        listener(n);
      }
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/plugins/patchbay/core/php/jeePatchbay.php`,
    onChanges: (fn) => (listener = fn),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Raw: sequential keep-alive POSTs of the same body shape from node:http. */
function rawPoster(url: string): { run: (round: number) => Promise<number>; close: () => void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const target = new URL(`${url}?apikey=${APIKEY}`);
  const post = (body: string) =>
    new Promise<void>((resolve, reject) => {
      const headers = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
      const req = http.request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: 'POST', agent, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end(body);
    });
  return {
    run: async (round) => {
      const start = nowMs();
      for (let i = 0; i < POSTS_PER_ROUND; i++) await post(JSON.stringify({ devices: { dev1: { [`r${round}c${i}`]: i } } }));
      return POSTS_PER_ROUND / ((nowMs() - start) / 1000);
    },
    close: () => agent.destroy(),
  };
}

/** Latency of sequential connect-write-close until the receiver has the message. */
async function latencies(port: number, arm: (hit: () => void) => void, samples: number[]): Promise<void> {
  let resolve: ((t: number) => void) | undefined;
  arm(() => resolve?.(nowMs()));
  for (let i = 0; i < LATENCY_PER_ROUND; i++) {
    const payload = JSON.stringify({ action: 'command', device: 'dev1', channel: 'relay', value: true, id: String(i), apikey: APIKEY });
    const got = new Promise<number>((r) => (resolve = r));
    const start = nowMs();
    await connectWriteClose(port, payload);
    samples.push((await got) - start);
  }
}

// Intake and latency: one raw server and one gateway (no callback: only the command path), alternating.
const raw = await rawTcpServer();
const down = await benchGateway({});
const intake = { raw: [] as number[], gw: [] as number[], ratios: [] as number[] };
const lat = { raw: [] as number[], gw: [] as number[] };
// Warm-up (not counted): JIT, zod and the module loader's first calls.
await blast(raw.port, INTAKE_PER_ROUND, raw.onMessage);
await blast(down.port, INTAKE_PER_ROUND, down.onCommand);
await latencies(raw.port, raw.onMessage, []);
await latencies(down.port, down.onCommand, []);
for (let round = 0; round < ROUNDS; round++) {
  const first = round % 2 === 0;
  const r1 = first ? await blast(raw.port, INTAKE_PER_ROUND, raw.onMessage) : 0;
  const g = await blast(down.port, INTAKE_PER_ROUND, down.onCommand);
  const r = first ? r1 : await blast(raw.port, INTAKE_PER_ROUND, raw.onMessage);
  intake.raw.push(r);
  intake.gw.push(g);
  intake.ratios.push(g / r);
  await latencies(raw.port, raw.onMessage, lat.raw);
  await latencies(down.port, down.onCommand, lat.gw);
}
await down.gateway.stop({ drainTimeoutMs: 1000 });
await raw.close();

// Callback POSTs: immediate mode, distinct channels (nothing to coalesce: one POST per change).
const server = await callbackServer();
const poster = rawPoster(server.url);
const up = await benchGateway({ callback: server.url, cycle: 0 });
const posts = { raw: [] as number[], gw: [] as number[], ratios: [] as number[] };
const gatewayRound = async (round: number): Promise<number> => {
  const c = counter(POSTS_PER_ROUND);
  server.onChanges((n) => {
    for (let i = 0; i < n; i++) c.hit();
  });
  const start = nowMs();
  for (let i = 0; i < POSTS_PER_ROUND; i++) up.emit(`r${round}c${i}`, i);
  await c.done;
  const rate = POSTS_PER_ROUND / ((nowMs() - start) / 1000);
  server.onChanges(() => undefined);
  return rate;
};
// Warm-up (not counted).
await poster.run(-1);
await gatewayRound(-1);
for (let round = 0; round < ROUNDS; round++) {
  const first = round % 2 === 0;
  const r1 = first ? await poster.run(round) : 0;
  const g = await gatewayRound(round);
  const r = first ? r1 : await poster.run(round);
  posts.raw.push(r);
  posts.gw.push(g);
  posts.ratios.push(g / r);
}
await up.gateway.stop({ drainTimeoutMs: 1000 });
poster.close();
await server.close();

/**
 * Launch (§2.4, §10 item 9): Jeedom's PHP polls for the pid file from the moment it starts
 * the daemon. Spawn → pid file of `patchbay jeedom` (the built CLI when present), next to a
 * node process whose whole program is writing that file: what Node itself costs.
 */
async function launchTimes(program: string[], listening?: RegExp): Promise<{ pidMs: number; listeningMs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-launch-'));
  const pid = join(dir, 'daemon.pid');
  try {
    const watcher = watch(dir);
    let pidAt = 0;
    const appeared = new Promise<void>((done) =>
      watcher.on('change', () => {
        if (pidAt === 0 && existsSync(pid)) {
          pidAt = nowMs();
          done();
        }
      }),
    );
    const start = nowMs();
    const child = spawn(process.execPath, program.map((a) => a.replace('{pid}', pid)), { stdio: ['ignore', 'pipe', 'ignore'] });
    // The daemon's own INFO line once its command socket accepts (§2.3 step 7).
    const serving = new Promise<number>((done) => {
      if (!listening) return done(0);
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (listening.test(out)) done(nowMs());
      });
    });
    await appeared;
    const listeningAt = await serving;
    child.stdout.resume();
    watcher.close();
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await exited;
    return { pidMs: pidAt - start, listeningMs: listening ? listeningAt - pidAt : 0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
/** A port to hand the daemon (it writes its pid file before it binds, so a race cannot skew the timing). */
function freeTcpPort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = net.createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => done(port));
    });
  });
}
const built = join(repoRoot, 'apps/gateway/dist/cli.js');
const cli = existsSync(built) ? [built] : ['--conditions=@patchbay/source', '--import', 'tsx', join(repoRoot, 'apps/gateway/src/cli.ts')];
const launch = { raw: [] as number[], gw: [] as number[], listening: [] as number[] };
for (let round = 0; round < 7; round++) {
  launch.raw.push((await launchTimes(['-e', `require('node:fs').writeFileSync(${JSON.stringify('{pid}')}, process.pid + '\\n'); setInterval(() => {}, 1000)`])).pidMs);
  const gw = await launchTimes([...cli, 'jeedom', '--socketport', String(await freeTcpPort()), '--apikey', APIKEY, '--pid', '{pid}', '--loglevel', 'info'], /Listening on: /);
  launch.gw.push(gw.pidMs);
  launch.listening.push(gw.listeningMs);
}
const launchMs = median(launch.gw);
const listeningMs = median(launch.listening);

lat.raw.sort((a, b) => a - b);
lat.gw.sort((a, b) => a - b);
// The ratio of the medians printed (the per-round ratios spread widely on a shared machine: noted).
const intakeRatio = median(intake.gw) / median(intake.raw);
const postRatio = median(posts.gw) / median(posts.raw);
const spread = (ratios: number[]) => {
  const sorted = [...ratios].sort((a, b) => a - b);
  return `per-round ratios: median ${median(sorted).toFixed(2)}, range ${(sorted[0] as number).toFixed(2)}-${(sorted.at(-1) as number).toFixed(2)}`;
};
const p50 = percentile(lat.gw, 50);
const p99 = percentile(lat.gw, 99);
const rawP50 = percentile(lat.raw, 50);
const rawP99 = percentile(lat.raw, 99);
const figures: Figure[] = [
  {
    metric: `intake, one JSON per connection, ${SENDERS} senders in a worker thread (medians of ${ROUNDS} alternating rounds)`,
    value: median(intake.gw),
    unit: 'commands/s',
    baseline: median(intake.raw),
    ratio: intakeRatio,
    target: '>= 0.8x',
    pass: intakeRatio >= 0.8,
    note: spread(intake.ratios),
  },
  {
    metric: `state changes to the callback, immediate mode, keep-alive (medians of ${ROUNDS} alternating rounds)`,
    value: median(posts.gw),
    unit: 'changes/s',
    baseline: median(posts.raw),
    ratio: postRatio,
    target: '>= 0.7x',
    pass: postRatio >= 0.7,
    note: spread(posts.ratios),
  },
  { metric: `command pickup latency p50, socket -> driver (${lat.gw.length} samples)`, value: p50, unit: 'ms', baseline: rawP50, ratio: rawP50 / p50, target: 'p50 <= 0.5 ms', pass: p50 <= 0.5 },
  { metric: 'command pickup latency p99, socket -> driver', value: p99, unit: 'ms', baseline: rawP99, ratio: rawP99 / p99, target: 'p99 <= 2 ms (issue: < 5 ms)', pass: p99 <= 2 },
  {
    metric: `launch: spawn -> pid file, \`patchbay jeedom\` (${existsSync(built) ? 'built CLI' : 'sources via tsx'}; median of 7) vs a node process that only writes it`,
    value: launchMs,
    unit: 'ms',
    baseline: median(launch.raw),
    ratio: median(launch.raw) / launchMs,
    target: 'deamon_info ok within 2000 ms (§10 item 9)',
    pass: launchMs <= 2000,
  },
  { metric: 'launch: pid file -> command socket accepting (median of 7)', value: listeningMs, unit: 'ms', target: '<= 2000 ms (§10 item 15)', pass: listeningMs <= 2000 },
];
report('jeedom', figures, { ratio: Math.min(intakeRatio, postRatio), label: 'min of intake and callback POST ratios to raw loopback' });
