/**
 * bench/core: events per second routed through the core from one device to 4 hosts, with the
 * journal off and on, next to the raw baselines of the same shape measured in the same run:
 * a loop that builds the same event object and calls 4 handler functions, and (for the
 * journal) the same serialised lines in the same batches appended with plain `fs` calls.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { median, nowMs, report, type Figure } from '@patchbay/bench-kit';
import { createGateway, defineAdapter, defineDriver, ErrorCodes, PatchbayError, type DriverContext, type OutboundEvent } from '@patchbay/core';
import { FileJournal, type FsyncPolicy } from '@patchbay/journal';
import { z } from 'zod';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const EVENTS = 1_000_000;
const HOSTS = 4;
const RUNS = 5;

let sink = 0;

/** The raw shape: build the event, call four handlers. */
function baseline(): number {
  const handlers = Array.from({ length: HOSTS }, () => (e: { value: number }) => {
    sink += e.value;
  });
  const start = nowMs();
  for (let i = 0; i < EVENTS; i++) {
    const now = Date.now();
    const event = { kind: 'state', id: 'x' + i, time: now, origin: 'dev', device: 'dev', channel: 'temperature', value: i, meta: undefined };
    for (let h = 0; h < HOSTS; h++) (handlers[h] as (e: { value: number }) => void)(event);
  }
  return EVENTS / ((nowMs() - start) / 1000);
}

/**
 * The journal's floor: the bytes the journal writes for the same events (one line each, the
 * event's JSON and its CRC-32, as the journal serialises them), batched as the core batches
 * them (one write per turn of the event loop, 10,000 events a turn), appended with writeSync.
 */
async function rawAppend(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-append-'));
  const fd = openSync(join(dir, 'segment.log'), 'a', 0o600);
  const start = nowMs();
  const slice = 10_000;
  for (let i = 0; i < EVENTS; i += slice) {
    const lines: string[] = [];
    for (let j = i; j < i + slice; j++) {
      const now = Date.now();
      const event = { kind: 'state', id: 'x' + j, time: now, origin: 'dev', device: 'dev', channel: 'temperature', value: j, meta: undefined };
      const content = 'e\t' + (j + 1) + '\t' + JSON.stringify(event);
      lines.push(content + '\t' + crc32(content).toString(16).padStart(8, '0') + '\n');
    }
    const bytes = Buffer.from(lines.join(''), 'utf8');
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const elapsed = nowMs() - start;
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  return EVENTS / (elapsed / 1000);
}

/** What one run through the core measured. */
interface CoreRun {
  eventsPerSecond: number;
  /** The journal's files at the end of the run, in bytes and segments. */
  journalBytes: number;
  segments: number;
}

/**
 * The same loop through the core: driver emit → state store → (journal) → 4 outboxes → 4
 * adapters. With `downHosts`, that many of the 4 refuse every delivery as unreachable.
 */
async function throughCore(journal: { fsync: FsyncPolicy } | undefined, downHosts = 0): Promise<CoreRun> {
  let ctx: DriverContext | undefined;
  const driver = defineDriver({
    type: 'bench-driver',
    config: z.object({}),
    create: (_c, c) => ({
      start: () => {
        ctx = c;
      },
      stop: () => undefined,
      send: () => ({ ok: true }),
    }),
  });
  let delivered = 0;
  const host = defineAdapter({
    type: 'bench-host',
    config: z.object({}),
    create: () => ({
      start: () => undefined,
      stop: () => undefined,
      deliver: (event: OutboundEvent) => {
        delivered++;
        if (event.kind === 'state') sink += event.value as number;
      },
    }),
  });
  const downHost = defineAdapter({
    type: 'bench-down-host',
    config: z.object({}),
    create: () => ({
      start: () => undefined,
      stop: () => undefined,
      deliver: () => {
        throw new PatchbayError(ErrorCodes.HOST_UNREACHABLE, 'bench host is down');
      },
    }),
  });
  const dir = mkdtempSync(join(tmpdir(), 'bench-core-'));
  const fileJournal = journal ? new FileJournal({ dir, fsync: journal.fsync }) : undefined;
  const gateway = createGateway({
    devices: [{ id: 'dev', definition: driver }],
    hosts: Array.from({ length: HOSTS }, (_, i) => ({ id: `h${i}`, definition: i < HOSTS - downHosts ? host : downHost })),
    journal: fileJournal,
  });
  await gateway.start();
  const emit = (ctx as DriverContext).emit;
  const start = nowMs();
  // Emit in slices with a turn of the event loop between them, as a real driver's reads
  // arrive, so the journal's end-of-tick batches are written inside the measured time.
  const slice = 10_000;
  for (let i = 0; i < EVENTS; i += slice) {
    for (let j = i; j < i + slice; j++) emit('temperature', j);
    await new Promise((resolve) => setImmediate(resolve));
  }
  fileJournal?.flush();
  const elapsed = nowMs() - start;
  const files = readdirSync(dir);
  const journalBytes = files.reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
  await gateway.stop({ drainTimeoutMs: downHosts > 0 ? 0 : undefined });
  rmSync(dir, { recursive: true, force: true });
  const expected = EVENTS * (HOSTS - downHosts);
  if (delivered < expected) throw new Error(`lost events: delivered ${delivered} of ${expected}`);
  return { eventsPerSecond: EVENTS / (elapsed / 1000), journalBytes, segments: files.length };
}

/**
 * Start-up: spawn the embedded default (built CLI when present, sources otherwise) and time
 * until /healthz answers 200 with every endpoint alive. The target is 2 s.
 */
const IDLE_MS = 15_000;

async function startup(): Promise<{ ms: number; idleRssMb: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-start-'));
  const built = join(repoRoot, 'apps/gateway/dist/cli.js');
  // The same node flags as `npm start` and the Docker image.
  const args = existsSync(built) ? ['--max-semi-space-size=2', '--heap-growing-percent=100', '--single-threaded-gc', built] : ['--conditions=@patchbay/source', '--import', 'tsx', join(repoRoot, 'apps/gateway/src/cli.ts')];
  const start = nowMs();
  const child = spawn(process.execPath, [...args, 'run', '--port', '0', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`gateway exited (${code}) before it started`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        const match = /"http":"(http:[^"]+)"/.exec(line);
        if (match && line.includes(' started')) resolve(match[1] as string);
      });
    });
    for (;;) {
      const response = await fetch(`${url}/healthz`);
      if (response.status === 200) break;
      // An endpoint that gave up (its port taken by another program, say) never comes alive:
      // say which and why instead of waiting for ever.
      const health = (await response.json()) as { hosts?: { id: string; status: string; reason?: string }[]; devices?: { id: string; status: string; reason?: string }[] };
      const dead = [...(health.hosts ?? []), ...(health.devices ?? [])].find((e) => e.status === 'dead');
      if (dead) throw new Error(`the embedded default did not come up: ${dead.id} is dead (${dead.reason ?? 'no reason given'}); are its default ports free?`);
      // Not every endpoint alive yet: ask again on the next turn (start-up only, bounded by the spawn).
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const ms = nowMs() - start;
    // Idle: every adapter up, the simulated device reporting once a second. V8 shrinks the
    // heap it grew during start-up only once allocation has been quiet for a while (its memory
    // reducer, about 8 s in here): the steady figure is the one after that.
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const idleRssMb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
    return { ms, idleRssMb };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const base: number[] = [];
const append: number[] = [];
const off: number[] = [];
const on: number[] = [];
const onBatch: number[] = [];
const oneDown: CoreRun[] = [];
// Interleave the runs so that machine noise hits every variant alike.
for (let run = 0; run < RUNS; run++) {
  base.push(baseline());
  append.push(await rawAppend());
  off.push((await throughCore(undefined)).eventsPerSecond);
  on.push((await throughCore({ fsync: 'interval' })).eventsPerSecond);
  if (run < 2) onBatch.push((await throughCore({ fsync: 'batch' })).eventsPerSecond);
  if (run < 3) oneDown.push(await throughCore({ fsync: 'interval' }, 1));
}
const b = median(base);
const a = median(append);
const figures: Figure[] = [
  { metric: 'raw loop, 4 handlers', value: b, unit: 'events/s' },
  { metric: 'raw append: the same journal lines, same batches, fs.writeSync', value: a, unit: 'events/s', note: 'JSON + CRC-32 per event, one write per 10,000 (the journal floor)' },
  { metric: 'core, journal off', value: median(off), unit: 'events/s', baseline: b, ratio: median(off) / b, target: '>= 1,000,000 events/s', pass: median(off) >= 1_000_000 },
  {
    metric: 'core, journal on (fsync interval 1 s)',
    value: median(on),
    unit: 'events/s',
    baseline: b,
    ratio: median(on) / b,
    target: '>= 200,000 events/s',
    pass: median(on) >= 200_000,
    note: 'one JSON line per event, appended in end-of-tick batches',
  },
  {
    metric: 'core, journal on (fsync interval 1 s), against raw append',
    value: median(on),
    unit: 'events/s',
    baseline: a,
    ratio: median(on) / a,
    target: '>= 0.5x raw append (issue 20)',
    pass: median(on) / a >= 0.5,
    note: 'the whole core (4 outboxes, state store) plus the journal, against writing its bytes alone',
  },
  {
    metric: 'core, journal on (fsync every batch)',
    value: median(onBatch),
    unit: 'events/s',
    baseline: b,
    ratio: median(onBatch) / b,
    note: 'power-loss safe; bounded by the disk fdatasync latency',
  },
];
const downRate = median(oneDown.map((r) => r.eventsPerSecond));
const downMb = Math.max(...oneDown.map((r) => r.journalBytes)) / 1024 / 1024;
const downSegments = Math.max(...oneDown.map((r) => r.segments));
figures.push({
  metric: 'core, journal on, 1 of the 4 hosts down throughout',
  value: downRate,
  unit: 'events/s',
  baseline: b,
  ratio: downRate / b,
  target: 'journal <= 4 segments (32 MiB)',
  pass: downMb <= 32,
  note: `journal on disk at the end: ${downMb.toFixed(1)} MiB in at most ${downSegments} segment${downSegments === 1 ? '' : 's'}, for ${EVENTS.toLocaleString('en')} events written (the down host's few waiting slots are journaled again, its cursor moves on)`,
});
const startups = [await startup(), await startup(), await startup()];
const how = existsSync(join(repoRoot, 'apps/gateway/dist/cli.js')) ? 'built CLI' : 'from sources through tsx (npm run build for the production figure)';
const startMs = median(startups.map((s) => s.ms));
const idleRss = median(startups.map((s) => s.idleRssMb));
figures.push(
  { metric: 'start-up to /healthz 200 (embedded default, every adapter)', value: startMs, unit: 'ms', target: '<= 2000 ms', pass: startMs <= 2000, note: how },
  { metric: `idle RSS, every adapter running, ${IDLE_MS / 1000} s after /healthz (median of 3 starts)`, value: idleRss, unit: 'MB', target: '<= 80 MB', pass: idleRss <= 80, note: how },
);
report('core', figures, { ratio: median(off) / b, label: 'core (journal off) vs raw 4-handler loop' });
if (sink === 42) console.log('');
