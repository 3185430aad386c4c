/**
 * Tracim master benchmark (PERFORMANCE.md, Tracim row): state changes per second delivered to
 * 1 and to 10 registered clients through the gateway and the `tracim` adapter, next to the
 * same number of raw Unix connect-write-close messages of the same size sent in the same run
 * (one connection at a time per destination, as the adapter must). Then the loss check:
 * 1,000 events/s to 1 client and 100 events/s to each of 10 clients, lost must be 0. Then the
 * wide case of bench/scale (issue 20): 2,000 channels changing at 10,000 values/s in all, more
 * than one connection at a time can carry, to one client: how old the values it gets are and
 * how many channels reach it, next to a raw loop keeping the latest value per channel.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tracimAdapter from '@patchbay/adapter-tracim';
import { encodeEnvelope, sendOnce } from '@patchbay/adapter-tracim/internal';
import { fmt, median, nowMs, report, type Figure } from '@patchbay/bench-kit';
import { createGateway, defineDriver, type DriverContext, type Gateway } from '@patchbay/core';
import { z } from 'zod';

/** A receiving client: counts TLMs and checks their values arrive in order. */
interface Receiver {
  path: string;
  server: Server;
  tlms: number;
  lastValue: number;
  outOfOrder: number;
  waiters: (() => void)[];
}

function receiver(path: string): Promise<Receiver> {
  const r: Receiver = { path, server: createServer(), tlms: 0, lastValue: -1, outOfOrder: 0, waiters: [] };
  r.server.on('connection', (socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      socket.end();
      const text = Buffer.concat(chunks).toString();
      // The connection in flight when the gateway stops is cut before its bytes.
      if (text.length === 0) return;
      const msg = JSON.parse(text) as { type: string; data?: unknown };
      if (msg.type !== 'daemon_tracim_event') return;
      const value = (JSON.parse(msg.data as string) as { fields: { value: number } }).fields.value;
      if (typeof value === 'number' && value >= 0) {
        if (value !== r.lastValue + 1) r.outOfOrder++;
        r.lastValue = value;
        r.tlms++;
        for (const wake of r.waiters.splice(0)) wake();
      }
    });
    socket.on('error', () => undefined);
  });
  return new Promise((resolve) => r.server.listen(path, () => resolve(r)));
}

function until(r: Receiver, count: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const deadline = setTimeout(() => resolve(false), timeoutMs);
    const check = () => {
      if (r.tlms >= count) {
        clearTimeout(deadline);
        resolve(true);
      } else r.waiters.push(check);
    };
    check();
  });
}

/** One raw message: connect, write, wait for the peer to close (what the adapter does per message). */
function rawSend(path: string, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ path });
    s.once('connect', () => s.end(bytes));
    s.on('data', () => undefined);
    s.once('error', reject);
    s.once('close', () => resolve());
  });
}

let emit: DriverContext['emit'] = () => undefined;
const benchDriver = defineDriver({
  type: 'bench',
  config: z.object({}),
  create: (_c, ctx) => ({
    start: () => {
      emit = ctx.emit;
    },
    stop: () => undefined,
    send: () => ({ ok: true }),
  }),
});

interface Rig {
  gateway: Gateway;
  receivers: Receiver[];
  close(): Promise<void>;
}

async function rig(dir: string, clients: number, tag: string): Promise<Rig> {
  const master = join(dir, `m-${tag}.sock`);
  // Every change must arrive here (the figure is messages carried): no coalescing of a backlog.
  const gateway = createGateway({
    devices: [{ id: 'dev1', definition: benchDriver }],
    hosts: [{ id: 'tracim', definition: tracimAdapter, options: { socketPath: master, pingInterval: 600_000, coalesceAfter: 1_000_000 } }],
  });
  await gateway.start();
  const receivers: Receiver[] = [];
  for (let i = 0; i < clients; i++) {
    const r = await receiver(join(dir, `c-${tag}-${i}.sock`));
    receivers.push(r);
    await sendOnce(master, encodeEnvelope(r.path, 'daemon_client_add', { path: r.path, pid: String(process.pid) }), 2000);
  }
  // Registered once the master has answered each with account_info (not counted as TLM).
  await new Promise((resolve) => setTimeout(resolve, 200));
  return {
    gateway,
    receivers,
    close: async () => {
      await gateway.stop({ drainTimeoutMs: 500 });
      for (const r of receivers) await new Promise((resolve) => r.server.close(resolve));
    },
  };
}

/** Adapter throughput: emit `n` changes at once, time until every client has all of them. */
/** One measured run: `n` changes to `clients` clients, its sockets in `dir` named by `tag`. */
interface Run {
  dir: string;
  clients: number;
  n: number;
  tag: string;
}

async function adapterRate({ dir, clients, n, tag }: Run): Promise<{ rate: number; lost: number; outOfOrder: number; cpuUs: number }> {
  const r = await rig(dir, clients, tag);
  const cpu = process.cpuUsage();
  const start = nowMs();
  for (let i = 0; i < n; i++) emit('counter', i);
  const ok = await Promise.all(r.receivers.map((x) => until(x, n, 30_000)));
  const elapsed = nowMs() - start;
  const used = process.cpuUsage(cpu);
  const cpuUs = (used.user + used.system) / (n * clients);
  const lost = r.receivers.reduce((s, x) => s + (n - x.tlms), 0);
  const outOfOrder = r.receivers.reduce((s, x) => s + x.outOfOrder, 0);
  await r.close();
  if (!ok.every(Boolean)) console.log(`tracim: warning: ${lost} messages missing after 30 s`);
  return { rate: n / (elapsed / 1000), lost, outOfOrder, cpuUs };
}

/** The raw baseline: the same message size, one connection at a time per destination. */
async function rawRate({ dir, clients, n, tag }: Run): Promise<{ rate: number; cpuUs: number }> {
  const receivers = await Promise.all(Array.from({ length: clients }, (_, i) => receiver(join(dir, `raw-${tag}-${i}.sock`))));
  const sample = (i: number) =>
    encodeEnvelope('/tmp/master.sock', 'daemon_tracim_event', JSON.stringify({ event_id: 1_700_000_000_000 + i, event_type: 'device.modified.state', created: '2025-03-27T13:51:25Z', read: null, fields: { author: null, client_token: null, device: 'dev1', channel: 'counter', value: i } }));
  const cpu = process.cpuUsage();
  const start = nowMs();
  await Promise.all(
    receivers.map(async (r) => {
      for (let i = 0; i < n; i++) await rawSend(r.path, sample(i));
    }),
  );
  const elapsed = nowMs() - start;
  const used = process.cpuUsage(cpu);
  for (const r of receivers) await new Promise((resolve) => r.server.close(resolve));
  return { rate: n / (elapsed / 1000), cpuUs: (used.user + used.system) / (n * clients) };
}

/** Paced: `perSecond` changes/s for `seconds`, then drain; returns messages lost. */
async function paced(dir: string, load: { clients: number; perSecond: number; seconds: number }, tag: string): Promise<{ sent: number; lost: number; outOfOrder: number }> {
  const { clients, perSecond, seconds } = load;
  const r = await rig(dir, clients, tag);
  const total = perSecond * seconds;
  let sent = 0;
  const start = nowMs();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((nowMs() - start) / 1000) * perSecond));
      while (sent < due) emit('counter', sent++);
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
  await Promise.all(r.receivers.map((x) => until(x, total, 10_000)));
  const lost = r.receivers.reduce((s, x) => s + (total - x.tlms), 0);
  const outOfOrder = r.receivers.reduce((s, x) => s + x.outOfOrder, 0);
  await r.close();
  return { sent: total * clients, lost, outOfOrder };
}

/** The wide case: `channels` channels at `perSecond` values/s in all for `seconds`. */
interface WideLoad {
  channels: number;
  perSecond: number;
  seconds: number;
}

/** A client of the wide case: the age of each state value it gets (the value is its emit time), and the channels reached. */
function wideReceiver(path: string): Promise<{ server: Server; ages: number[]; channels: Set<string>; recording: { on: boolean } }> {
  const ages: number[] = [];
  const channels = new Set<string>();
  const recording = { on: false };
  const server = createServer((socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      socket.end();
      if (!recording.on) return;
      const msg = JSON.parse(Buffer.concat(chunks).toString()) as { type: string; data?: unknown };
      if (msg.type !== 'daemon_tracim_event') return;
      const tlm = JSON.parse(msg.data as string) as { event_type: string; fields: { channel: string; value: unknown } };
      if (tlm.event_type !== 'device.modified.state' || typeof tlm.fields.value !== 'number') return;
      ages.push(performance.now() - tlm.fields.value);
      channels.add(tlm.fields.channel);
    });
    socket.on('error', () => undefined);
  });
  return new Promise((resolve) => server.listen(path, () => resolve({ server, ages, channels, recording })));
}

/** Emits the wide load through `emit(channel, value)`, the value being the emit time; resolves at the end of the window. */
function emitWide(load: WideLoad, emitOne: (channel: string, value: number) => void): Promise<number> {
  const names = Array.from({ length: load.channels }, (_, i) => `c${i}`);
  const total = load.perSecond * load.seconds;
  let sent = 0;
  const start = nowMs();
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((nowMs() - start) / 1000) * load.perSecond));
      while (sent < due) emitOne(names[sent++ % load.channels] as string, performance.now());
      if (sent >= total) {
        clearInterval(timer);
        resolve(sent);
      }
    }, 5);
  });
}

interface WideResult {
  p50: number;
  p99: number;
  /** Of the channels, those that reached the client in the window. */
  reached: number;
  cpuUsPerValue: number;
}

function wideResult(r: { ages: number[]; channels: Set<string> }, cpu: NodeJS.CpuUsage, values: number): WideResult {
  const ages = Float64Array.from(r.ages).sort();
  const pick = (q: number) => (ages.length === 0 ? Number.NaN : (ages[Math.min(ages.length - 1, Math.floor((q / 100) * ages.length))] as number));
  return { p50: pick(50), p99: pick(99), reached: r.channels.size, cpuUsPerValue: (cpu.user + cpu.system) / values };
}

/** The wide case through the gateway; the first second is left out (the registration's snapshot). */
async function wideAdapter(dir: string, load: WideLoad, tag: string): Promise<WideResult> {
  const master = join(dir, `m-${tag}.sock`);
  const gateway = createGateway({
    devices: [{ id: 'dev1', definition: benchDriver }],
    hosts: [{ id: 'tracim', definition: tracimAdapter, options: { socketPath: master, pingInterval: 600_000 } }],
  });
  await gateway.start();
  const r = await wideReceiver(join(dir, `c-${tag}.sock`));
  await sendOnce(master, encodeEnvelope(r.server.address() as string, 'daemon_client_add', { path: r.server.address() as string, pid: String(process.pid) }), 2000);
  const warm = emitWide({ ...load, seconds: 1 }, (channel, value) => emit(channel, value));
  await warm;
  r.recording.on = true;
  const cpu = process.cpuUsage();
  const values = await emitWide(load, (channel, value) => emit(channel, value));
  const used = process.cpuUsage(cpu);
  r.recording.on = false;
  await gateway.stop({ drainTimeoutMs: 200 });
  await new Promise((resolve) => r.server.close(resolve));
  return wideResult(r, used, values);
}

/** The raw loop of the wide case: the latest envelope per channel (a Map), one connection at a time. */
async function wideRaw(dir: string, load: WideLoad, tag: string): Promise<WideResult> {
  const r = await wideReceiver(join(dir, `raw-${tag}.sock`));
  const path = r.server.address() as string;
  const queue = new Map<string, Buffer>();
  let inFlight: Promise<void> | undefined;
  let stopped = false;
  let eventId = 0;
  const pump = (): void => {
    if (inFlight !== undefined || stopped) return;
    const next = queue.entries().next();
    if (next.done === true) return;
    const [key, bytes] = next.value;
    queue.delete(key);
    inFlight = rawSend(path, bytes)
      .catch(() => undefined)
      .finally(() => {
        inFlight = undefined;
        pump();
      });
  };
  const offer = (channel: string, value: number) => {
    const bytes = encodeEnvelope('/tmp/master.sock', 'daemon_tracim_event', JSON.stringify({ event_id: ++eventId, event_type: 'device.modified.state', created: '2025-03-27T13:51:25Z', read: null, fields: { author: null, client_token: null, device: 'dev1', channel, value, kind: 'json' } }));
    queue.delete(channel);
    queue.set(channel, bytes);
    pump();
  };
  await emitWide({ ...load, seconds: 1 }, offer);
  r.recording.on = true;
  const cpu = process.cpuUsage();
  const values = await emitWide(load, offer);
  const used = process.cpuUsage(cpu);
  r.recording.on = false;
  stopped = true;
  await inFlight;
  await new Promise((resolve) => r.server.close(resolve));
  return wideResult(r, used, values);
}

const ROUNDS = 5;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pb-bench-tracim-'));
  const figures: Figure[] = [];
  const ratios: number[] = [];
  try {
    for (const { clients, n } of [
      { clients: 1, n: 2000 },
      { clients: 10, n: 300 },
    ]) {
      const adapter: number[] = [];
      const raw: number[] = [];
      const pairRatios: number[] = [];
      const cpuAdapter: number[] = [];
      const cpuRaw: number[] = [];
      let lost = 0;
      let disorder = 0;
      // The machine is shared: pair each adapter run with a raw run right next to it, alternate
      // which goes first, and take the median of the per-pair ratios.
      for (let round = 0; round < ROUNDS; round++) {
        let a: { rate: number; lost: number; outOfOrder: number; cpuUs: number };
        let b: { rate: number; cpuUs: number };
        const run: Run = { dir, clients, n, tag: `${clients}-${round}` };
        if (round % 2 === 0) {
          b = await rawRate(run);
          a = await adapterRate(run);
        } else {
          a = await adapterRate(run);
          b = await rawRate(run);
        }
        adapter.push(a.rate);
        raw.push(b.rate);
        pairRatios.push(a.rate / b.rate);
        cpuAdapter.push(a.cpuUs);
        cpuRaw.push(b.cpuUs);
        lost += a.lost;
        disorder += a.outOfOrder;
      }
      const value = median(adapter);
      const baseline = median(raw);
      const ratio = median(pairRatios);
      ratios.push(ratio);
      figures.push({
        metric: `state changes/s delivered to each of ${clients} client${clients > 1 ? 's' : ''} (burst of ${n}, median of ${ROUNDS})`,
        value,
        unit: 'msg/s',
        baseline,
        ratio,
        target: '>= 0.7x',
        pass: ratio >= 0.7,
        note: `ratio = median of ${ROUNDS} adjacent pairs; lost ${lost}, out of order ${disorder}; raw = Unix connect-write-close, one in flight per destination`,
      });
      // CPU per delivered message (sender and receivers share this process in both shapes):
      // steadier than throughput on a loaded machine, so it shows the adapter's own cost.
      const cpuA = median(cpuAdapter);
      const cpuR = median(cpuRaw);
      figures.push({ metric: `CPU per message delivered to ${clients} client${clients > 1 ? 's' : ''} (whole process)`, value: cpuA, unit: 'µs', baseline: cpuR, ratio: cpuR / cpuA, note: 'ratio = raw / adapter, higher is better' });
    }
    for (const { clients, perSecond } of [
      { clients: 1, perSecond: 1000 },
      { clients: 10, perSecond: 100 },
    ]) {
      const p = await paced(dir, { clients, perSecond, seconds: 3 }, `paced-${clients}`);
      figures.push({ metric: `lost at ${fmt(perSecond)} events/s to ${clients === 1 ? '1 client' : `each of ${clients} clients`} for 3 s`, value: p.lost, unit: 'messages', target: '0 lost', pass: p.lost === 0, note: `${p.sent} deliveries, out of order ${p.outOfOrder}` });
    }
    const load: WideLoad = { channels: 2000, perSecond: 10_000, seconds: 3 };
    const wa: WideResult[] = [];
    const wr: WideResult[] = [];
    for (let round = 0; round < 3; round++) {
      if (round % 2 === 0) {
        wr.push(await wideRaw(dir, load, `w${round}`));
        wa.push(await wideAdapter(dir, load, `w${round}`));
      } else {
        wa.push(await wideAdapter(dir, load, `w${round}`));
        wr.push(await wideRaw(dir, load, `w${round}`));
      }
    }
    const med = (xs: WideResult[], pick: (x: WideResult) => number) => median(xs.map(pick));
    const wide = `${fmt(load.channels)} channels at ${fmt(load.perSecond)} values/s to 1 client`;
    const ageA = med(wa, (x) => x.p50);
    const ageR = med(wr, (x) => x.p50);
    figures.push({ metric: `${wide}: age of the values received, p50 (median of 3)`, value: ageA, unit: 'ms', baseline: ageR, ratio: ageR / ageA, note: `p99 ${fmt(med(wa, (x) => x.p99))} ms (raw ${fmt(med(wr, (x) => x.p99))}); ratio = raw / adapter, higher is better; raw = latest value per channel in a Map, one connection at a time` });
    const reachedA = med(wa, (x) => x.reached);
    const reachedR = med(wr, (x) => x.reached);
    figures.push({ metric: `${wide}: channels that reached the client in ${load.seconds} s`, value: reachedA, unit: `of ${fmt(load.channels)}`, baseline: reachedR, ratio: reachedA / reachedR });
    const cpuWA = med(wa, (x) => x.cpuUsPerValue);
    const cpuWR = med(wr, (x) => x.cpuUsPerValue);
    figures.push({ metric: `${wide}: CPU per value emitted (whole process)`, value: cpuWA, unit: 'µs', baseline: cpuWR, ratio: cpuWR / cpuWA, note: 'ratio = raw / adapter, higher is better' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const headline = Math.min(...ratios);
  report('tracim', figures, { ratio: headline, label: 'state changes delivered per second vs raw Unix connect-write-close, worst of 1 and 10 clients' });
}

await main();
