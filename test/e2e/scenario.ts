/**
 * The end-to-end scenario (issue 9): the simulated device on a real socat pty (`patchbay sim
 * --serial` on the device end), ONE `patchbay run --config` child bridging it into Jeedom,
 * Tracim, Domogik (embedded bus), Comodojo and the WebSocket API, each driven by its real
 * peer and each sending a relay command every 100 ms. Reused by the fault suite, the bench
 * and the soak.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, Mosquitto, spawnPatchbay, tempDir, type PatchbayProcess } from '@patchbay/testing';
import { parse, stringify } from 'yaml';
import { ComodojoPeer, domogikIds, DomogikPeer, JeedomPeer, statsChanged, TracimPeer, WsPeer, type CommandRecord, type HostPeer } from './peers.js';

export type { HostStats } from './peers.js';

/** Settings of a scenario run. */
export interface ScenarioOptions {
  /** Device report period, ms (issue: 10). */
  deviceIntervalMs?: number;
  /** Each host's command period, ms (issue: 100). */
  commandIntervalMs?: number;
  /** Gateway log level (warn keeps a long run's stdout small). */
  logLevel?: string;
  /**
   * Three gateways over mosquitto (issue 19): A has the device, B the Jeedom, Tracim, Domogik
   * and ws hosts, C the Comodojo host. `gateway` is then B.
   */
  cluster?: boolean;
}

/** A running scenario. */
export class Scenario {
  readonly dir = tempDir('patchbay-e2e-');
  gateway: PatchbayProcess | undefined;
  socat: ChildProcess | undefined;
  sim: PatchbayProcess | undefined;
  jeedom!: JeedomPeer;
  tracim!: TracimPeer;
  domogik!: DomogikPeer;
  comodojo!: ComodojoPeer;
  ws!: WsPeer;
  private ports!: Record<'http' | 'jeedomSocket' | 'jeedomCallback' | 'comodojo' | 'reqRep' | 'pub' | 'sub' | 'httpA' | 'httpC', number>;
  /** Cluster mode: the broker, and the gateways with the device (A) and the Comodojo host (C). */
  private broker: Mosquitto | undefined;
  private others: { a?: PatchbayProcess; c?: PatchbayProcess } = {};
  private commandTimer: NodeJS.Timeout | undefined;
  /** Hosts in an outage: a host that is down sends nothing. */
  readonly down = new Set<string>();
  private sequence = 0;
  private relay = false;
  /** `[time, rssBytes, cpuTicks]` samples of the gateway process. */
  readonly usage: [number, number, number][] = [];
  /** Commands sent between these instants may be lost by a kill -9 (in flight, not yet accepted). */
  /** `[killed at, restarted at]` of each `kill -9`. */
  readonly killWindows: [number, number][] = [];

  /**
   * Whether a kill -9 may have caught a command before the gateway took it, so that no reply is
   * owed. Jeedom: the gateway closes the command connection once the command is journaled, so
   * a command it had closed before the kill is owed a reply (a PB210_GATEWAY_RESTARTED one at
   * worst) and one it had not is in flight, as the peer saw it, with no clock involved. Tracim's
   * protocol has no per-command acknowledgement: a command connection sent shortly before the kill
   * may still be unread by a busy gateway (over half a second on a loaded 2-core machine), so a
   * few seconds are allowed. ws, Comodojo and Domogik answer on the asking connection, which dies
   * with the gateway, so a command still waiting for the device (up to the 5 s command timeout)
   * when it dies cannot be answered.
   */
  inKill(host: string, record: CommandRecord): boolean {
    return this.killWindows.some(([killedAt, restartedAt]) => {
      if (record.sentAt > restartedAt) return false;
      if (host === 'jeedom') return record.sentAt >= killedAt - 6000 && (record.acceptedAt === undefined || record.acceptedAt >= killedAt);
      return record.sentAt >= killedAt - (host === 'tracim' ? 3000 : 6000);
    });
  }

  /**
   * Whether every reply after a command's first is that first reply handed out again after a
   * kill -9: an HTTP callback the gateway had posted but not yet marked as
   * delivered when it died is posted again on restart (the plugin drops a reply for an id it
   * already has). Any other second reply is a real double answer.
   */
  repeatsAreRedeliveries(record: CommandRecord): boolean {
    const firstAt = record.sentAt + (record.rttMs ?? 0);
    // The first came before the restart (it may land a few ms after the kill was ordered: the
    // POST was on its way), the repeat after the kill.
    return (record.repeats ?? []).every((repeat) => repeat.same && this.killWindows.some(([killedAt, restartedAt]) => firstAt <= restartedAt && repeat.at >= killedAt));
  }

  private readonly configPath = join(this.dir.path, 'patchbay.yaml');
  private readonly configPaths = { a: join(this.dir.path, 'patchbay-a.yaml'), c: join(this.dir.path, 'patchbay-c.yaml') };
  private readonly links = { gateway: join(this.dir.path, 'gw.pty'), device: join(this.dir.path, 'dev.pty') };

  constructor(private readonly options: ScenarioOptions = {}) {}

  get hosts(): HostPeer[] {
    return [this.jeedom, this.tracim, this.domogik, this.comodojo, this.ws];
  }

  /** Starts the line, the device, the gateway and every peer. */
  async start(): Promise<void> {
    const names = ['http', 'jeedomSocket', 'jeedomCallback', 'comodojo', 'reqRep', 'pub', 'sub', 'httpA', 'httpC'] as const;
    const ports: Record<string, number> = {};
    for (const name of names) ports[name] = await freePort();
    this.ports = ports as typeof this.ports;
    const apikey = 'e2e-apikey-0123456789';
    const tracimDir = this.dir.path;
    const config = {
      gateway: { dataDir: join(this.dir.path, 'data'), http: { host: '127.0.0.1', port: this.ports.http }, commandTimeoutMs: 2000, drainTimeoutMs: 1000 },
      log: { level: this.options.logLevel ?? 'info', format: 'json' },
      devices: [{ id: 'dev', driver: 'serial', options: { path: this.links.gateway, commandTimeoutMs: 2000 } }],
      hosts: [
        { id: 'jeedom', adapter: 'jeedom', options: { socketPort: this.ports.jeedomSocket, apikey, callback: `http://127.0.0.1:${this.ports.jeedomCallback}/plugins/patchbay/core/php/jeePatchbay.php`, cycle: 0 } },
        { id: 'tracim', adapter: 'tracim', options: { mode: 'master', socketPath: join(tracimDir, 'master.sock') } },
        {
          id: 'domogik',
          adapter: '@patchbay/adapter-domogik',
          options: { bus: 'embedded', reqRepPort: this.ports.reqRep, pubPort: this.ports.pub, subPort: this.ports.sub, host: 'e2e', configService: 'none', ...domogikIds },
        },
        { id: 'comodojo', adapter: 'comodojo', options: { socket: `tcp://127.0.0.1:${this.ports.comodojo}` } },
        { id: 'ws', adapter: 'ws', options: {} },
      ],
    };
    if (this.options.cluster) {
      this.broker = await Mosquitto.start();
      const cluster = { url: this.broker.url, name: 'e2e', reconnectMs: 200 };
      const gateway = (name: string, port: number) => ({ ...config.gateway, name, dataDir: join(this.dir.path, `data-${name}`), http: { host: '127.0.0.1', port } });
      const [comodojo, ...others] = [config.hosts[3], ...config.hosts.filter((_h, i) => i !== 3)];
      writeFileSync(this.configPaths.a, stringify({ ...config, gateway: gateway('A', this.ports.httpA), hosts: [], cluster }));
      writeFileSync(this.configPath, stringify({ ...config, gateway: gateway('B', this.ports.http), devices: [], hosts: others, cluster }));
      writeFileSync(this.configPaths.c, stringify({ ...config, gateway: gateway('C', this.ports.httpC), devices: [], hosts: [comodojo], cluster }));
    } else {
      writeFileSync(this.configPath, stringify(config));
    }
    this.startSocat();
    this.sim = spawnPatchbay(['sim', '--serial', this.links.device, '--interval', String(this.options.deviceIntervalMs ?? 10), '--log-level', 'warn']);
    this.jeedom = new JeedomPeer({ httpPort: this.ports.jeedomCallback, socketPort: this.ports.jeedomSocket, apikey, logFile: join(this.dir.path, 'jeedom.log') });
    await this.jeedom.start();
    await this.startGateway();
    this.tracim = new TracimPeer({ master: join(tracimDir, 'master.sock'), socket: join(tracimDir, 'client.sock') });
    this.domogik = new DomogikPeer({ reqRep: this.ports.reqRep, pub: this.ports.pub, sub: this.ports.sub, service: 'plugin-patchbay.e2e' });
    this.comodojo = new ComodojoPeer({ socket: `tcp://127.0.0.1:${this.ports.comodojo}` });
    this.ws = new WsPeer(() => `ws://127.0.0.1:${this.ports.http}/ws`);
    await Promise.all([this.tracim.start(), this.domogik.start(), this.comodojo.start(), this.ws.start()]);
  }

  /** Starts (or restarts, same config and data dir) the gateway and waits until it serves. */
  async startGateway(): Promise<void> {
    if (this.options.cluster) {
      await this.startCluster();
      return;
    }
    this.gateway = spawnPatchbay(['run', '--config', this.configPath]);
    await this.gateway.waitStarted(30_000);
    await this.gateway.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('comodojo RPC socket listening'), { timeoutMs: 15_000, what: 'the comodojo socket' });
    this.sampleUsage();
  }

  /** Cluster mode: A, B and C, until B and C both show A's device online. */
  private async startCluster(): Promise<void> {
    this.others.a = spawnPatchbay(['run', '--config', this.configPaths.a]);
    this.gateway = spawnPatchbay(['run', '--config', this.configPath]);
    this.others.c = spawnPatchbay(['run', '--config', this.configPaths.c]);
    await Promise.all([this.others.a.waitStarted(30_000), this.gateway.waitStarted(30_000), this.others.c.waitStarted(30_000)]);
    await this.others.c.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('comodojo RPC socket listening'), { timeoutMs: 15_000, what: 'the comodojo socket' });
    for (const [proc, what] of [[this.gateway, 'B'], [this.others.c, 'C']] as const) {
      await proc.waitForLog((l) => l.msg === 'device dev is online', { timeoutMs: 30_000, what: `A's device online on ${what}` });
    }
    this.sampleUsage();
  }

  /** `kill -9` the gateway. */
  async killGateway(): Promise<void> {
    const gateway = this.gateway;
    this.killWindows.push([Date.now(), Number.POSITIVE_INFINITY]);
    gateway?.child.kill('SIGKILL');
    await gateway?.exited;
  }

  /** After a restart: closes the open kill window. */
  markRestarted(): void {
    const window = this.killWindows.at(-1);
    if (window) window[1] = Date.now();
  }

  /** The gateway's config file, as `patchbay reload -c` reads it. */
  get configFile(): string {
    return this.configPath;
  }

  /** The HTTP port of the gateway. */
  get httpPort(): number {
    return this.ports.http;
  }

  /** Rewrites the config file (a reload then reads it). */
  rewriteConfig(change: (config: Record<string, unknown>) => void): void {
    const config = parse(readFileSync(this.configPath, 'utf8')) as Record<string, unknown>;
    change(config);
    writeFileSync(this.configPath, stringify(config));
  }

  startSocat(): void {
    this.socat = spawn('socat', [`pty,raw,echo=0,link=${this.links.gateway}`, `pty,raw,echo=0,link=${this.links.device}`], { stdio: 'ignore' });
  }

  async stopSocat(): Promise<void> {
    const socat = this.socat;
    this.socat = undefined;
    if (!socat || socat.exitCode !== null) return;
    const exited = new Promise((r) => socat.once('exit', r));
    socat.kill('SIGKILL');
    await exited;
  }

  /** Every host sends a relay command each period, with a unique id. */
  startCommands(): void {
    this.commandTimer = setInterval(() => {
      this.relay = !this.relay;
      this.sequence++;
      for (const host of this.hosts) if (!this.down.has(host.stats.name)) host.command(`${host.stats.name}-${this.sequence}`, this.relay);
    }, this.options.commandIntervalMs ?? 100);
  }

  stopCommands(): void {
    clearInterval(this.commandTimer);
  }

  /**
   * Every command sent has its reply, or could not be handed over, or was caught by a kill;
   * and no host still holds a queued command it has yet to send (Comodojo sends in jobs).
   */
  allAnswered(): boolean {
    if (!this.comodojo.idle) return false;
    return this.hosts.every((h) => [...h.stats.commands.values()].every((r) => r.replies > 0 || r.refused || r.abandoned || this.inKill(h.stats.name, r)));
  }

  /** One RSS/CPU sample of the gateway from /proc. */
  sampleUsage(): void {
    const pid = this.gateway?.child.pid;
    if (!pid) return;
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      this.usage.push([Date.now(), rss, ticks]);
    } catch {
      // the process is gone
    }
  }

  /** The gateway's Prometheus text. */
  async metrics(): Promise<string> {
    // In cluster mode the device's own counters are on A.
    const res = await fetch(`http://127.0.0.1:${this.options.cluster ? this.ports.httpA : this.ports.http}/metrics`);
    return res.text();
  }

  /** The gateway's current state of the device, through Comodojo's `device.state`. */
  async gatewayState(): Promise<Record<string, unknown>> {
    return (await this.comodojo.state()) ?? {};
  }

  /** Stops everything and removes the temp dir. */
  async stop(): Promise<void> {
    this.stopCommands();
    await Promise.allSettled([this.ws?.close(), this.comodojo?.close(), this.domogik?.close(), this.tracim?.close()]);
    await this.gateway?.stop(5000);
    await Promise.all([this.others.a?.stop(5000), this.others.c?.stop(5000)]);
    await this.broker?.close();
    await this.jeedom?.close();
    await this.sim?.stop(3000);
    await this.stopSocat();
    this.dir.remove();
  }
}

/** Figures of one host. */
export interface HostFigures {
  host: string;
  delivered: number;
  duplicates: number;
  commands: number;
  /** Commands with no reply (outside a kill window). */
  unanswered: number;
  /** Commands whose client disconnected before the reply (ws). */
  abandoned: number;
  /** Commands in a kill -9 window with no reply. */
  lostInKill: number;
  /** Commands with a second reply that is not the first handed out again after a kill -9. */
  multiReplies: number;
  /** Commands whose reply was handed out again after a kill -9 (same reply; the plugin drops it). */
  redelivered: number;
  failed: number;
  refused: number;
  latencyP50: number;
  latencyP99: number;
  rttP50: number;
  rttP99: number;
}

function pct(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/**
 * Per-host figures. Latency: the serial device's frames carry no timestamp, so it is measured
 * gateway-ingest → host: the ws client gets each state event's gateway `time`; for the other
 * hosts a temperature value is matched to the latest ws event with the same value at or
 * before its receipt.
 */
export function figures(scenario: Scenario): HostFigures[] {
  const ws = scenario.ws.stats.samples.filter((s) => s[3] !== undefined).sort((a, b) => (a[3] as number) - (b[3] as number));
  const byValue = new Map<unknown, number[]>();
  for (const s of ws) byValue.set(s[1], [...(byValue.get(s[1]) ?? []), s[3] as number]);
  return scenario.hosts.map((host) => {
    const stats = host.stats;
    const latencies: number[] = [];
    for (const [, value, at, time] of stats.samples) {
      if (time !== undefined) {
        latencies.push(at - time);
        continue;
      }
      const times = byValue.get(value) ?? [];
      let best: number | undefined;
      for (const t of times) if (t <= at + 1 && at - t < 5000) best = t;
      if (best !== undefined) latencies.push(Math.max(0, at - best));
    }
    const records = [...stats.commands.values()];
    const inKill = (r: CommandRecord) => scenario.inKill(stats.name, r);
    const rtts = records.filter((r) => r.rttMs !== undefined).map((r) => r.rttMs as number);
    return {
      host: stats.name,
      delivered: stats.delivered,
      duplicates: stats.duplicates,
      commands: records.length,
      unanswered: records.filter((r) => r.replies === 0 && !r.refused && !r.abandoned && !inKill(r)).length,
      abandoned: records.filter((r) => r.replies === 0 && r.abandoned && !inKill(r)).length,
      lostInKill: records.filter((r) => r.replies === 0 && !r.refused && inKill(r)).length,
      multiReplies: records.filter((r) => r.replies > 1 && !scenario.repeatsAreRedeliveries(r)).length,
      redelivered: records.filter((r) => r.replies > 1 && scenario.repeatsAreRedeliveries(r)).length,
      failed: records.filter((r) => r.replies > 0 && r.ok === false).length,
      refused: records.filter((r) => r.refused).length,
      latencyP50: pct(latencies, 50),
      latencyP99: pct(latencies, 99),
      rttP50: pct(rtts, 50),
      rttP99: pct(rtts, 99),
    };
  });
}

/** Resolves when `check` holds, re-checked whenever a peer records something; rejects with `what` after the timeout. */
export async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  await statsChanged.waitUntil(() => (check() ? true : undefined), { what, timeoutMs });
}

/** Gateway RSS (MB, last sample) and CPU (% of one core over the samples). */
export function usageFigures(scenario: Scenario): { rssMb: number; cpuPercent: number } {
  const samples = scenario.usage;
  const last = samples.at(-1);
  let ticks = 0;
  let ms = 0;
  for (let i = 1; i < samples.length; i++) {
    const [t0, , c0] = samples[i - 1] as [number, number, number];
    const [t1, , c1] = samples[i] as [number, number, number];
    if (c1 < c0) continue; // a restarted gateway
    ticks += c1 - c0;
    ms += t1 - t0;
  }
  return { rssMb: last ? last[1] / 2 ** 20 : Number.NaN, cpuPercent: ms > 0 ? (ticks * 10 * 100) / ms : Number.NaN };
}
