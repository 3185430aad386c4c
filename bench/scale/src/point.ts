/**
 * One point of the sweep, on one side: the gateway as built (apps/gateway/dist) or the raw
 * loop, with the same host clients, measured over the same window from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { percentile } from '@patchbay/bench-kit';
import { freePort, repoRoot, tempDir } from '@patchbay/testing';
import { buildSync } from 'esbuild';
import { stringify } from 'yaml';
import { HOSTS, HostClients, type HostName } from './hosts.js';
import { DOMOGIK_COMMAND_ID, DOMOGIK_DEVICE_ID, deviceId, sensorId, type Endpoints, type PointShape } from './wire.js';

export type Side = 'gateway' | 'raw';

export interface HostFigures {
  host: HostName;
  values: number;
  p50: number;
  p99: number;
  p999: number;
  rttP99: number;
  commands: number;
  failed: number;
  /** Commands of the window with no reply 2 s after it (counted as 2 s: the p99 is then a lower bound). */
  unanswered: number;
  /** Values whose ingest came before the ws clients connected (counted from then: lower bounds). */
  latencyLowerBounds: number;
}

export interface PointResult {
  side: Side;
  shape: PointShape;
  /** Values the devices reported in the window (the gateway's `patchbay_device_events`; the raw loop's own count). */
  valuesIn: number;
  /** Values reported per second over the measured span (the window, the 2 s for late replies, the collection). */
  valuesPerS: number;
  /** Of those, the values ws client 0 received in the window. */
  wsClient0Values: number;
  /** CPU time of the process per value reported, µs. */
  cpuUsPerValue: number;
  cpuPercent: number;
  rssMb: number;
  startupMs: number;
  /** Bytes appended under the data dir (raw: the same values as JSON lines) per value. */
  journalBytesPerValue: number;
  /** ws clients the far side closed (backlog over its limit). */
  wsDropped: number;
  /** Bytes of `health` messages per second to one ws client. */
  healthBytesPerS: number;
  hosts: HostFigures[];
}

export interface PointOptions {
  seconds: number;
  /** `--cpu-prof` into this directory (gateway side only). */
  cpuProfDir?: string;
  cpuProfName?: string;
}

const CLK_TCK = 100;

/** Sim tick period that gives `rate` values/s over `devices` devices (two values per tick). */
export function intervalFor(shape: PointShape): number {
  return Math.max(1, Math.round((2 * shape.devices * 1000) / shape.rate));
}

function procSample(pid: number): { ticks: number; rss: number } {
  const stat = readFileSyncSafe(`/proc/${pid}/stat`);
  const status = readFileSyncSafe(`/proc/${pid}/status`);
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ticks: Number(fields[11]) + Number(fields[12]), rss: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024 };
}

function readFileSyncSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Bytes appended to the files under `dir` since the first sample (a file deleted by compaction keeps what it had). */
class GrowthMeter {
  private readonly first = new Map<string, number>();
  private readonly last = new Map<string, number>();
  constructor(private readonly dir: string) {}

  sample(): void {
    for (const file of walk(this.dir)) {
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        continue;
      }
      if (!this.first.has(file)) this.first.set(file, 0);
      this.last.set(file, Math.max(size, this.last.get(file) ?? 0));
    }
  }

  start(): void {
    this.first.clear();
    this.last.clear();
    for (const file of walk(this.dir)) {
      try {
        const size = statSync(file).size;
        this.first.set(file, size);
        this.last.set(file, size);
      } catch {
        // gone
      }
    }
  }

  get bytes(): number {
    let total = 0;
    for (const [file, size] of this.last) total += size - (this.first.get(file) ?? 0);
    return total;
  }
}

function walk(dir: string): string[] {
  const out: string[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `probe` holds: the figure itself is the time this takes, so a poll is the measurement. */
async function waitFor(probe: () => Promise<boolean>, { what, timeoutMs, child }: { what: string; timeoutMs: number; child: ChildProcess }): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what}: the process exited (${child.exitCode})`);
    if (await probe()) return;
    await sleep(10);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

/**
 * Values the devices reported so far: the sum of `patchbay_device_events_total` over every
 * device (the raw loop's /metrics names it the same way).
 */
async function reported(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith('patchbay_device_events_total{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

const healthz = (port: number) => () =>
  fetch(`http://127.0.0.1:${port}/healthz`)
    .then((r) => (r.body?.cancel(), r.status === 200))
    .catch(() => false);
const listening = (port: number) => () =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

export function gatewayConfig(ep: Endpoints, shape: PointShape, dataDir: string): unknown {
  const sensors: Record<string, number> = {};
  const devices = [];
  for (let i = 0; i < shape.devices; i++) {
    devices.push({ id: deviceId(i), driver: 'sim', options: { interval: intervalFor(shape), spread: true } });
    for (const channel of ['temperature', 'humidity', 'relay']) sensors[`${deviceId(i)}.${channel}`] = sensorId(i, channel);
  }
  return {
    gateway: {
      dataDir,
      // Raised explicitly, for the bench only (the defaults stay safe): at N = 10,000 the start-up
      // keeps the loop busy so long that 100 ws upgrades passed the 10 s header deadline, which
      // the gateway answers 400; and K clients plus the probes must fit under the caps.
      http: { host: '127.0.0.1', port: ep.http, maxConnections: Math.max(256, 2 * shape.clients + 64), headersTimeoutMs: 120_000, requestTimeoutMs: 120_000 },
      commandTimeoutMs: 2000,
      drainTimeoutMs: 500,
    },
    log: { level: 'warn', format: 'json' },
    devices,
    hosts: [
      { id: 'jeedom', adapter: 'jeedom', options: { socketPort: ep.jeedomSocket, apikey: ep.apikey, callback: `http://127.0.0.1:${ep.jeedomCallback}/plugins/patchbay/core/php/jeePatchbay.php`, cycle: 0 } },
      { id: 'tracim', adapter: 'tracim', options: { mode: 'master', socketPath: ep.tracimMaster } },
      {
        id: 'domogik',
        adapter: 'domogik',
        options: { bus: 'embedded', reqRepPort: ep.reqRep, pubPort: ep.pub, subPort: ep.sub, host: ep.domogikHost, configService: 'none', sensors, commands: { 'd0.relay': DOMOGIK_COMMAND_ID }, deviceIds: { d0: DOMOGIK_DEVICE_ID } },
      },
      { id: 'comodojo', adapter: 'comodojo', options: { socket: `tcp://127.0.0.1:${ep.comodojo}` } },
      { id: 'ws', adapter: 'ws', options: { maxClients: Math.max(1000, 2 * shape.clients) } },
    ],
  };
}

/** SIGTERM, then SIGKILL after `graceMs`; how long the stop took. */
async function stopChild(child: ChildProcess, graceMs: number): Promise<number> {
  if (child.exitCode !== null || child.signalCode !== null) return 0;
  const started = performance.now();
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  return performance.now() - started;
}

const built = new Set<string>();
/**
 * `src/<name>.ts` as plain JavaScript in dist/ (bundled once per run): the raw loop so that its
 * RSS and start-up carry no TypeScript loader, the ws clients' worker because a worker does not
 * get tsx's hooks.
 */
export function plainScript(name: string): string {
  const outfile = join(import.meta.dirname, `../dist/${name}.mjs`);
  if (built.has(name)) return outfile;
  buildSync({ entryPoints: [join(import.meta.dirname, `${name}.ts`)], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile, logLevel: 'error' });
  built.add(name);
  return outfile;
}

/** Free ports for every listener of a point, and its two Tracim sockets under `dir`. */
export async function endpointsIn(dir: string): Promise<Endpoints> {
  return {
    http: await freePort(),
    jeedomSocket: await freePort(),
    jeedomCallback: await freePort(),
    apikey: 'scale-apikey-0123456789',
    tracimMaster: join(dir, 'master.sock'),
    tracimClient: join(dir, 'client.sock'),
    reqRep: await freePort(),
    pub: await freePort(),
    sub: await freePort(),
    domogikHost: 'scale',
    comodojo: await freePort(),
  };
}

export async function runPoint(side: Side, shape: PointShape, options: PointOptions): Promise<PointResult> {
  const dir = tempDir(`patchbay-scale-${side}-`);
  const ep = await endpointsIn(dir.path);
  const hosts = new HostClients(ep, shape.clients);
  let child: ChildProcess | undefined;
  let output = '';
  try {
    await hosts.listenJeedom();
    await hosts.listenTracim();
    const dataDir = join(dir.path, 'data');
    const journalFile = join(dir.path, 'raw.journal');
    let args: string[];
    if (side === 'gateway') {
      const configPath = join(dir.path, 'patchbay.yaml');
      writeFileSync(configPath, stringify(gatewayConfig(ep, shape, dataDir)));
      const prof = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`, `--cpu-prof-name=${options.cpuProfName ?? 'scale.cpuprofile'}`, '--cpu-prof-interval=4000'] : [];
      // As `npm start` runs it.
      args = ['--max-semi-space-size=2', '--heap-growing-percent=100', '--single-threaded-gc', ...prof, join(repoRoot, 'apps/gateway/dist/cli.js'), 'run', '--config', configPath];
    } else {
      args = [plainScript('raw'), JSON.stringify({ ep, shape, journal: journalFile })];
    }
    const spawnedAt = performance.now();
    child = spawn(process.execPath, args, { cwd: dir.path, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const proc = child;
    await waitFor(healthz(ep.http), { what: 'GET /healthz 200', timeoutMs: 60_000, child: proc });
    const startupMs = performance.now() - spawnedAt;
    await waitFor(listening(ep.comodojo), { what: 'the comodojo socket', timeoutMs: 30_000, child: proc });
    await hosts.connect();
    hosts.startCommands(200);
    const meter = new GrowthMeter(side === 'gateway' ? dataDir : dir.path);
    await sleep(1500 + shape.devices / 10);
    meter.start();
    const pid = proc.pid as number;
    const t0 = performance.now();
    const s0 = procSample(pid);
    const reported0 = await reported(ep.http);
    hosts.recording = true;
    const sampler = setInterval(() => meter.sample(), 250);
    await sleep(options.seconds * 1000);
    hosts.recording = false;
    clearInterval(sampler);
    // Replies to the window's commands count whenever they come; give them 2 s.
    hosts.stopCommands();
    await hosts.settle(2000);
    await hosts.collectWs();
    meter.sample();
    const s1 = procSample(pid);
    const valuesIn = (await reported(ep.http)) - reported0;
    const elapsed = performance.now() - t0;
    const cpuMs = ((s1.ticks - s0.ticks) * 1000) / CLK_TCK;
    const figures: HostFigures[] = HOSTS.map((host) => {
      const tally = hosts.tallies.get(host);
      const { latencies: matched, lowerBounds } = hosts.matchedLatencies(host);
      const latencies = Float64Array.from(matched).sort();
      // A command with no reply counts as at least the 2 s it was given after the window.
      const unanswered = tally?.unanswered ?? 0;
      const rtts = Float64Array.from([...(tally?.rtts ?? []), ...new Array<number>(unanswered).fill(2000)]).sort();
      return {
        host,
        values: tally?.values ?? 0,
        p50: host === 'comodojo' ? Number.NaN : percentile(latencies, 50),
        p99: host === 'comodojo' ? Number.NaN : percentile(latencies, 99),
        p999: host === 'comodojo' ? Number.NaN : percentile(latencies, 99.9),
        latencyLowerBounds: lowerBounds,
        rttP99: percentile(rtts, 99),
        unanswered,
        commands: tally?.commandsSent ?? 0,
        failed: tally?.failedReplies ?? 0,
      };
    });
    return {
      side,
      shape,
      valuesIn,
      valuesPerS: (valuesIn * 1000) / elapsed,
      wsClient0Values: hosts.valuesIn,
      wsDropped: hosts.wsDropped,
      cpuUsPerValue: (cpuMs * 1000) / valuesIn,
      cpuPercent: (cpuMs / elapsed) * 100,
      rssMb: s1.rss / 2 ** 20,
      startupMs,
      journalBytesPerValue: meter.bytes / valuesIn,
      healthBytesPerS: ((hosts.tallies.get('ws')?.healthBytes ?? 0) * 1000) / elapsed,
      hosts: figures,
    };
  } catch (error) {
    throw new Error(`${side} N=${shape.devices} K=${shape.clients}: ${(error as Error).message}\n${output}`, { cause: error });
  } finally {
    await hosts.close();
    if (child) {
      // A profile is written only by a clean exit: give it time.
      const stopMs = await stopChild(child, options.cpuProfDir ? 120_000 : 20_000);
      if (stopMs > 5000) console.log(`scale: ${side} N=${shape.devices} K=${shape.clients} took ${Math.round(stopMs)} ms to stop on SIGTERM${child.signalCode === 'SIGKILL' ? ' (killed)' : ''}`);
    }
    dir.remove();
  }
}
