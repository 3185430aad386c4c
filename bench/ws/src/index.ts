/**
 * WebSocket API benchmark. Two shapes, each against a raw `ws` baseline measured in the same run:
 *  - fan-out: state events from one device to ten clients, through the core and the adapter,
 *    against a raw WebSocketServer broadcasting the same JSON to ten clients;
 *  - command round trip: one client, one command at a time, through the core to a driver and
 *    back, against a raw ws server answering each JSON message with JSON.
 * Loopback only, bounded: a fixed number of events and round trips.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGateway, defineDriver, type DriverContext, type HttpHandler, type HttpMount, type UpgradeHandler } from '@patchbay/core';
import wsAdapter from '@patchbay/adapter-ws';
import { fmt, median, nowMs, percentile, report, type Figure } from '@patchbay/bench-kit';
import { WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';

const CLIENTS = 10;
const EVENTS = 20_000;
const CHUNK = 200;
const ROUND_TRIPS = 5_000;
const RUNS = 5;

/** A node:http server with exact-path upgrades, like the gateway's. */
async function httpServer(): Promise<{ mount: HttpMount; server: Server; port: number }> {
  const routes = new Map<string, HttpHandler>();
  const upgrades = new Map<string, UpgradeHandler>();
  const server = createServer((req, res) => {
    const handler = routes.get((req.url ?? '/').split('?')[0] as string);
    if (handler) handler(req, res);
    else res.writeHead(404).end();
  });
  server.on('upgrade', (req, socket, head) => {
    const handler = upgrades.get((req.url ?? '/').split('?')[0] as string);
    if (handler) handler(req, socket, head);
    else socket.destroy();
  });
  const mount: HttpMount = {
    route: (path, handler) => (routes.set(path, handler), () => routes.delete(path)),
    upgrade: (path, handler) => (upgrades.set(path, handler), () => upgrades.delete(path)),
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { mount, server, port: (server.address() as AddressInfo).port };
}

/** A raw ws server on the same kind of HTTP server and upgrade path handling as the adapter's. */
async function rawServer(): Promise<{ wss: WebSocketServer; server: Server; port: number }> {
  const { mount, server, port } = await httpServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  mount.upgrade('/', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
  return { wss, server, port };
}

/** Connect `n` clients that count messages of `type`; resolves once all are open (and greeted, when asked). */
async function clients(url: string, n: number, options: { greeting: boolean }): Promise<{ sockets: WebSocket[]; counts: number[]; waitAll(total: number): Promise<void> }> {
  const counts = new Array<number>(n).fill(0);
  let wake: (() => void) | undefined;
  const sockets = await Promise.all(
    Array.from({ length: n }, (_, i) => {
      const socket = new WebSocket(url);
      return new Promise<WebSocket>((resolve) => {
        let greeted = !options.greeting;
        socket.on('open', () => greeted && resolve(socket));
        socket.on('message', () => {
          if (!greeted) {
            greeted = true;
            return resolve(socket);
          }
          counts[i] = (counts[i] as number) + 1;
          wake?.();
        });
      });
    }),
  );
  return {
    sockets,
    counts,
    waitAll: (total) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (counts.every((c) => c >= total)) {
            wake = undefined;
            resolve();
          }
        };
        wake = check;
        check();
      }),
  };
}

/** Emit `EVENTS` in chunks, yielding between chunks so sockets drain; events/s until every client has all. */
async function pump(emit: (i: number) => void, waitAll: (total: number) => Promise<void>): Promise<number> {
  const start = nowMs();
  for (let i = 0; i < EVENTS; i += CHUNK) {
    for (let j = i; j < i + CHUNK; j++) emit(j);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await waitAll(EVENTS);
  return EVENTS / ((nowMs() - start) / 1000);
}

async function rawFanout(): Promise<number> {
  const { wss, server, port } = await rawServer();
  const peers: WebSocket[] = [];
  wss.on('connection', (ws) => peers.push(ws));
  const c = await clients(`ws://127.0.0.1:${port}/`, CLIENTS, { greeting: false });
  while (peers.length < CLIENTS) await new Promise((resolve) => setImmediate(resolve));
  const rate = await pump((i) => {
    const data = Buffer.from(JSON.stringify({ type: 'state', id: `e${i}`, time: Date.now(), device: 'bench1', channel: 'temperature', value: 20 + (i % 100) / 10 }));
    for (const ws of peers) ws.send(data, { binary: false });
  }, c.waitAll);
  for (const s of c.sockets) s.terminate();
  wss.close();
  server.close();
  return rate;
}

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

async function gatewayRig(): Promise<{ port: number; stop(): Promise<void> }> {
  const { mount, server, port } = await httpServer();
  const gateway = createGateway({ devices: [{ id: 'bench1', definition: benchDriver }], hosts: [{ id: 'ws', definition: wsAdapter, options: { healthIntervalMs: 0, page: false } }], http: mount });
  await gateway.start();
  return {
    port,
    async stop() {
      await gateway.stop({ drainTimeoutMs: 200 });
      server.close();
    },
  };
}

async function gatewayFanout(): Promise<number> {
  const rig = await gatewayRig();
  const c = await clients(`ws://127.0.0.1:${rig.port}/ws`, CLIENTS, { greeting: true });
  const rate = await pump((i) => driverCtx?.emit('temperature', 20 + (i % 100) / 10), c.waitAll);
  for (const s of c.sockets) s.terminate();
  await rig.stop();
  return rate;
}

/** Sequential round trips on one socket; latencies in ms, sorted. */
async function roundTrips(url: string, greeting: boolean): Promise<number[]> {
  const socket = new WebSocket(url);
  const latencies: number[] = [];
  let pending: ((data: string) => void) | undefined;
  let greeted = !greeting;
  await new Promise<void>((resolve) => {
    socket.on('open', () => greeted && resolve());
    socket.on('message', (data) => {
      if (!greeted) {
        greeted = true;
        return resolve();
      }
      const text = String(data);
      if (text.includes('"reply"')) pending?.(text);
    });
  });
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const start = nowMs();
    await new Promise<string>((resolve) => {
      pending = resolve;
      socket.send(JSON.stringify({ type: 'command', id: i, device: 'bench1', channel: 'relay', value: i % 2 === 0 }));
    });
    latencies.push(nowMs() - start);
  }
  socket.terminate();
  return latencies.sort((a, b) => a - b);
}

async function rawRoundTrips(): Promise<number[]> {
  const { wss, server, port } = await rawServer();
  wss.on('connection', (ws: WebSocket) =>
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { id: number; device: string; value: unknown };
      ws.send(JSON.stringify({ type: 'reply', id: m.id, ok: true, device: m.device, value: m.value }));
    }),
  );
  const latencies = await roundTrips(`ws://127.0.0.1:${port}/`, false);
  wss.close();
  server.close();
  return latencies;
}

async function gatewayRoundTrips(): Promise<number[]> {
  const rig = await gatewayRig();
  const latencies = await roundTrips(`ws://127.0.0.1:${rig.port}/ws`, true);
  await rig.stop();
  return latencies;
}

const raw: number[] = [];
const ours: number[] = [];
const rtt = { raw50: [] as number[], raw99: [] as number[], our50: [] as number[], our99: [] as number[] };
// One untimed pass of each first: the first run's figures were JIT warm-up, the gateway's most
// (it runs more code), and a median of three kept it in one run out of three.
await rawFanout();
await gatewayFanout();
await rawRoundTrips();
await gatewayRoundTrips();
// Interleave the shapes run by run, so drift on a shared machine hits both alike.
for (let run = 0; run < RUNS; run++) {
  raw.push(await rawFanout());
  ours.push(await gatewayFanout());
  const r = await rawRoundTrips();
  const g = await gatewayRoundTrips();
  rtt.raw50.push(percentile(r, 50));
  rtt.raw99.push(percentile(r, 99));
  rtt.our50.push(percentile(g, 50));
  rtt.our99.push(percentile(g, 99));
  console.log(`run ${run + 1}: fan-out raw ${fmt(raw[run] as number)}/s, gateway ${fmt(ours[run] as number)}/s; rtt p50 raw ${fmt(rtt.raw50[run] as number)} ms, gateway ${fmt(rtt.our50[run] as number)} ms`);
}
const fanRatio = median(ours) / median(raw);
const figures: Figure[] = [
  { metric: `fan-out to ${CLIENTS} clients (events/s, each to all)`, value: median(ours), unit: 'events/s', baseline: median(raw), ratio: fanRatio, note: `median of ${RUNS}; baseline: raw ws broadcast of the same JSON` },
  { metric: 'command round trip p50', value: median(rtt.our50), unit: 'ms', baseline: median(rtt.raw50), ratio: median(rtt.raw50) / median(rtt.our50), note: 'baseline: raw ws JSON echo' },
  { metric: 'command round trip p99', value: median(rtt.our99), unit: 'ms', baseline: median(rtt.raw99), ratio: median(rtt.raw99) / median(rtt.our99) },
];
report('ws', figures, { ratio: fanRatio, label: `fan-out to ${CLIENTS} clients vs raw ws broadcast` });
process.exit(0);
