/**
 * Issue 13.7, the fault suite's floods: one real `patchbay` process with every listener a
 * local, unauthenticated client can reach (Jeedom's command socket, Comodojo's RPC socket,
 * Tracim's master socket, the HTTP/WebSocket API, the embedded MQTT broker and the three ports
 * of Domogik's embedded bus) is flooded with more idle connections than each listener's cap
 * and with connections trickling a byte every 100 ms of a message that never ends. While they
 * are open, each listener's real client is served; every flood connection is closed by the
 * listener's deadline for a whole message; the gateway's RSS stays within the budget that the
 * README's Security section documents.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort, Signal, spawnPatchbay, tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ComodojoPeer, domogikIds, DomogikPeer, JeedomPeer, statsChanged, TracimPeer, WsPeer } from './peers.js';
import { until } from './scenario.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

const apikey = 'floods-faults-apikey-0123456789';
/** The cap set on each listener that has one; the flood opens more idle connections than that. */
const CAP = 16;
const IDLE = CAP + 8;
const TRICKLES = 4;
/** The whole-message deadline set on the listeners that take one (Jeedom, Comodojo, Tracim). */
const DEADLINE_MS = 8000;
/** The gateway's RSS budget under these floods (README, Security: listener defaults). */
const RSS_BUDGET_MB = 250;
/** Lateness allowed past a deadline on a loaded machine. */
const SLACK_MS = 3000;

/** A ZMTP 3.0 greeting (NULL mechanism), then the header of a 1 MiB command that never comes. */
function zmtpOpening(): Buffer {
  const greeting = Buffer.alloc(64);
  greeting[0] = 0xff;
  greeting[9] = 0x7f;
  greeting[10] = 3;
  greeting.write('NULL', 12, 'latin1');
  const command = Buffer.alloc(9);
  command[0] = 0x06; // long command frame
  command.writeBigUInt64BE(1n << 20n, 1);
  return Buffer.concat([greeting, command]);
}

/** One listener under flood: how to reach it, what an endless message looks like, its deadline. */
interface Target {
  name: string;
  address: { port: number } | { path: string };
  /** The start of a message; a trickle then sends one more byte of it every tick, forever. */
  opening: Buffer;
  filler: number;
  /** The longest a flood connection may live: the listener's deadline for a whole message. */
  deadlineMs: number;
  /** Where that deadline comes from (for the failure message). */
  source: string;
}

/** One flood connection, and when it opened and closed. */
interface FloodConnection {
  socket: Socket;
  kind: 'idle' | 'trickle';
  openedAt: number;
  closedAt?: number;
  sent: number;
}

/** The flood on every target: idle connections and trickles, driven by one 100 ms tick. */
class Flood {
  readonly connections = new Map<string, FloodConnection[]>();
  readonly changed = new Signal();
  ticks = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly targets: Target[]) {}

  private open(target: Target, kind: FloodConnection['kind']): void {
    const socket = 'path' in target.address ? connect(target.address.path) : connect(target.address.port, '127.0.0.1');
    const connection: FloodConnection = { socket, kind, openedAt: Date.now(), sent: 0 };
    socket.on('error', () => undefined);
    // Whatever a listener answers (greetings, 408s) is read and dropped.
    socket.on('data', () => undefined);
    socket.once('close', () => {
      connection.closedAt = Date.now();
      this.changed.notify();
    });
    if (kind === 'trickle') socket.once('connect', () => socket.write(target.opening));
    this.connections.set(target.name, [...(this.connections.get(target.name) ?? []), connection]);
  }

  /** Trickles first, so each holds a slot under the cap; then more idle connections than the cap. */
  start(onTick: () => void): void {
    for (const target of this.targets) for (let i = 0; i < TRICKLES; i++) this.open(target, 'trickle');
    setImmediate(() => {
      for (const target of this.targets) for (let i = 0; i < IDLE; i++) this.open(target, 'idle');
    });
    this.timer = setInterval(() => {
      this.ticks++;
      for (const target of this.targets) {
        for (const c of this.connections.get(target.name) ?? []) {
          if (c.kind === 'trickle' && c.closedAt === undefined && c.socket.writable) {
            c.socket.write(Buffer.of(target.filler));
            c.sent++;
          }
        }
      }
      onTick();
      this.changed.notify();
    }, 100);
  }

  stop(): void {
    clearInterval(this.timer);
    for (const list of this.connections.values()) for (const c of list) c.socket.destroy();
  }

  /** When the first trickle on a listener was closed (the end of "during the flood" there). */
  firstTrickleClosed(name: string): number {
    const closed = (this.connections.get(name) ?? []).filter((c) => c.kind === 'trickle').map((c) => c.closedAt ?? Number.POSITIVE_INFINITY);
    return Math.min(...closed);
  }

  get allClosed(): boolean {
    return [...this.connections.values()].every((list) => list.every((c) => c.closedAt !== undefined));
  }
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** An MQTT subscriber (mosquitto_sub) on the sim's temperature; each message's arrival time. */
function mqttSubscriber(port: number): { child: ChildProcess; arrivals: number[] } {
  const child = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-t', 'patchbay/dev/temperature', '-V', 'mqttv311'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const arrivals: number[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', () => {
    arrivals.push(Date.now());
    statsChanged.notify();
  });
  child.stderr?.resume();
  return { child, arrivals };
}

describe('listener floods (13.7, fault suite)', () => {
  it('faults - floods of idle and trickling connections on every listener: real clients are still served on each, every flood connection is closed by its deadline, RSS stays within the budget', async () => {
    const dir = tempDir('patchbay-floods-faults-');
    cleanups.push(dir.remove);
    const names = ['http', 'jeedomSocket', 'jeedomCallback', 'comodojo', 'mqtt', 'reqRep', 'pub', 'sub'] as const;
    const ports = {} as Record<(typeof names)[number], number>;
    for (const name of names) ports[name] = await freePort();
    const masterSocket = join(dir.path, 'master.sock');
    const configPath = join(dir.path, 'patchbay.yaml');
    writeFileSync(
      configPath,
      stringify({
        gateway: { dataDir: join(dir.path, 'data'), http: { host: '127.0.0.1', port: ports.http, maxConnections: CAP }, commandTimeoutMs: 5000, drainTimeoutMs: 500 },
        log: { level: 'info', format: 'json' },
        devices: [{ id: 'dev', driver: 'sim', options: { interval: 200 } }],
        hosts: [
          {
            id: 'jeedom',
            adapter: 'jeedom',
            options: { socketPort: ports.jeedomSocket, apikey, callback: `http://127.0.0.1:${ports.jeedomCallback}/plugins/patchbay/core/php/jeePatchbay.php`, cycle: 0, maxConnections: CAP, messageTimeoutMs: DEADLINE_MS },
          },
          { id: 'comodojo', adapter: 'comodojo', options: { socket: `tcp://127.0.0.1:${ports.comodojo}`, maxConnections: CAP, frameTimeoutMs: DEADLINE_MS } },
          { id: 'tracim', adapter: 'tracim', options: { mode: 'master', socketPath: masterSocket, readTimeoutMs: DEADLINE_MS, maxConnections: CAP } },
          { id: 'ws', adapter: 'ws', options: { maxClients: CAP } },
          { id: 'mqtt', adapter: 'mqtt', options: { embedded: { port: ports.mqtt, maxConnections: CAP } } },
          {
            id: 'domogik',
            adapter: '@patchbay/adapter-domogik',
            options: { bus: 'embedded', reqRepPort: ports.reqRep, pubPort: ports.pub, subPort: ports.sub, host: 'e2e', configService: 'none', ...domogikIds },
          },
        ],
      }),
    );
    const jeedom = new JeedomPeer({ httpPort: ports.jeedomCallback, socketPort: ports.jeedomSocket, apikey, logFile: join(dir.path, 'jeedom.log') });
    await jeedom.start();
    cleanups.push(() => jeedom.close());
    const gateway = spawnPatchbay(['run', '--config', configPath]);
    cleanups.push(() => gateway.stop(5000));
    await gateway.waitStarted(30_000);
    await gateway.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('comodojo RPC socket listening'), { timeoutMs: 15_000, what: 'the comodojo socket' });
    await gateway.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('embedded MQTT broker'), { timeoutMs: 15_000, what: 'the embedded MQTT broker' });
    const pid = gateway.child.pid as number;
    const rssBefore = rssMb(pid);

    // One MQTT subscriber from before the flood; another connects during it (a connection still
    // without CONNECT gives way to it at the cap).
    const subscriber = mqttSubscriber(ports.mqtt);
    cleanups.push(() => void subscriber.child.kill('SIGKILL'));
    await until(() => subscriber.arrivals.length > 0, 'the MQTT subscriber getting state before the flood', 30_000);

    const tcp = (port: number) => ({ port });
    const http = Buffer.from('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nX-Flood: ');
    // CONNECT, remaining length 64 KiB - 1, under the broker's maxPacketBytes (one announcing more
    // is closed on its header): aedes waits for the whole packet, until the CONNECT deadline.
    const mqttConnect = Buffer.of(0x10, 0xff, 0xff, 0x03);
    const targets: Target[] = [
      { name: 'jeedom', address: tcp(ports.jeedomSocket), opening: Buffer.from(`{"apikey":"${apikey}","action":"command","device":"`), filler: 0x61, deadlineMs: DEADLINE_MS, source: 'jeedom messageTimeoutMs' },
      { name: 'comodojo', address: tcp(ports.comodojo), opening: Buffer.from('eyJqc29ucnBj'), filler: 0x41, deadlineMs: DEADLINE_MS, source: 'comodojo frameTimeoutMs' },
      { name: 'tracim', address: { path: masterSocket }, opening: Buffer.from('{"type":"'), filler: 0x61, deadlineMs: DEADLINE_MS, source: 'tracim readTimeoutMs' },
      // Node's headersTimeout (10 s), checked every second (connectionsCheckingInterval).
      { name: 'ws', address: tcp(ports.http), opening: http, filler: 0x61, deadlineMs: 11_000, source: 'gateway.http.headersTimeoutMs 10 s, checked every 1 s' },
      { name: 'mqtt', address: tcp(ports.mqtt), opening: mqttConnect, filler: 0x00, deadlineMs: 10_000, source: 'the embedded broker connectTimeoutMs (10 s)' },
      ...(['reqRep', 'pub', 'sub'] as const).map((port) => ({
        name: `domogik ${port}`,
        address: tcp(ports[port]),
        opening: zmtpOpening(),
        filler: 0x00,
        deadlineMs: 10_000,
        source: "the embedded bus's ZMTP handshake deadline (10 s)",
      })),
    ];
    const flood = new Flood(targets);
    cleanups.push(() => flood.stop());
    let rssPeak = rssBefore;
    const startedAt = Date.now();
    flood.start(() => {
      try {
        rssPeak = Math.max(rssPeak, rssMb(pid));
      } catch {
        // the gateway is gone: the health check below says so
      }
    });
    // A second and more of flood: Jeedom's and Comodojo's idle connections are old enough to
    // give way, every cap is reached.
    await flood.changed.waitUntil(() => (flood.ticks >= 12 ? true : undefined), { what: 'the flood under way', timeoutMs: 20_000 });
    const opened = [...flood.connections.values()].flat();
    expect(opened).toHaveLength(targets.length * (IDLE + TRICKLES));

    // Real clients, all at once, while the flood holds every listener.
    const servedAt: Record<string, number> = {};
    const served = (name: string) => () => (servedAt[name] = Date.now());
    const comodojo = new ComodojoPeer({ socket: `tcp://127.0.0.1:${ports.comodojo}` });
    const tracim = new TracimPeer({ master: masterSocket, socket: join(dir.path, 'client.sock') });
    const ws = new WsPeer(() => `ws://127.0.0.1:${ports.http}/ws`);
    const domogik = new DomogikPeer({ reqRep: ports.reqRep, pub: ports.pub, sub: ports.sub, service: 'plugin-patchbay.e2e' });
    cleanups.push(() => Promise.allSettled([comodojo.close(), tracim.close(), ws.close(), domogik.close()]));
    const mqttBefore = subscriber.arrivals.length;
    await Promise.all([
      (async () => {
        jeedom.command('real-jeedom', true);
        await until(() => (jeedom.stats.commands.get('real-jeedom')?.replies ?? 0) > 0, 'the Jeedom command reply through the callback', 60_000);
        expect(jeedom.stats.commands.get('real-jeedom')?.ok).toBe(true);
      })().then(served('jeedom')),
      (async () => {
        const state = await comodojo.state();
        expect(state).toHaveProperty('temperature');
      })().then(served('comodojo')),
      (async () => {
        await tracim.start();
        await until(() => tracim.stats.delivered > 0, 'a TLM for the registered Tracim client', 60_000);
      })().then(served('tracim')),
      (async () => {
        await ws.start();
        await until(() => ws.stats.delivered > 0, 'state for the ws client', 60_000);
      })().then(served('ws')),
      (async () => {
        await until(() => subscriber.arrivals.length > mqttBefore, 'state for the MQTT subscriber during the flood', 60_000);
        const during = mqttSubscriber(ports.mqtt);
        cleanups.push(() => void during.child.kill('SIGKILL'));
        await until(() => during.arrivals.length > 0, 'state for an MQTT subscriber connecting during the flood', 60_000);
      })().then(served('mqtt')),
      (async () => {
        await domogik.start();
        domogik.command('real-domogik', true);
        await until(() => domogik.stats.delivered > 0 && (domogik.stats.commands.get('real-domogik')?.replies ?? 0) > 0, 'a Domogik sensor publication and the client.cmd result', 60_000);
        expect(domogik.stats.commands.get('real-domogik')?.ok).toBe(true);
      })().then(served('domogik')),
    ]);
    // Each was served while its listener's trickles were still open.
    for (const name of ['jeedom', 'comodojo', 'tracim', 'ws', 'mqtt']) expect(servedAt[name], `${name} served during its flood`).toBeLessThan(flood.firstTrickleClosed(name));
    for (const port of ['reqRep', 'pub', 'sub']) expect(servedAt.domogik, `domogik served during the flood on ${port}`).toBeLessThan(flood.firstTrickleClosed(`domogik ${port}`));

    // Every flood connection, idle or trickling, is closed by its listener, within its deadline.
    await flood.changed.waitUntil(() => (flood.allClosed ? true : undefined), { what: 'every flood connection closed by the gateway', timeoutMs: 11_000 + 2 * SLACK_MS + 20_000 });
    for (const target of targets) {
      const list = flood.connections.get(target.name) ?? [];
      const lifetimes = list.map((c) => (c.closedAt as number) - c.openedAt);
      const longest = Math.max(...lifetimes);
      expect(longest, `${target.name}: the longest flood connection lived ${longest} ms; its deadline is ${target.deadlineMs} ms (${target.source})`).toBeLessThanOrEqual(target.deadlineMs + SLACK_MS);
      const trickles = list.filter((c) => c.kind === 'trickle');
      // Bytes kept coming on each trickle until it was closed: the deadline was not an idle timer.
      for (const c of trickles) expect(c.sent, `${target.name}: a trickle sent bytes until closed`).toBeGreaterThan(5);
      if (target.deadlineMs === DEADLINE_MS) {
        for (const c of trickles) expect((c.closedAt as number) - c.openedAt, `${target.name}: a trickle lived to its deadline`).toBeGreaterThanOrEqual(DEADLINE_MS - 200);
      }
    }

    // The caps held: connections past them were refused, or evicted when silent, on every capped listener.
    const metrics = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
    const metric = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1] ?? 0);
    expect(metric('patchbay_jeedom_rejected_messages_total') + metric('patchbay_jeedom_evicted_connections_total')).toBeGreaterThanOrEqual(IDLE + TRICKLES - CAP);
    expect(metric('patchbay_comodojo_rejected_connections_total') + metric('patchbay_comodojo_evicted_connections_total')).toBeGreaterThan(0);
    expect(metric('patchbay_tracim_rejected_connections_total') + metric('patchbay_tracim_evicted_connections_total')).toBeGreaterThanOrEqual(IDLE + TRICKLES - CAP);
    expect(metric('patchbay_http_refused_connections_total') + metric('patchbay_http_evicted_connections_total')).toBeGreaterThanOrEqual(IDLE + TRICKLES - CAP);

    // Within the budget, and still serving: a new MQTT client gets in once the flood is gone.
    expect(rssPeak, `gateway RSS peaked at ${rssPeak.toFixed(1)} MB (before the flood ${rssBefore.toFixed(1)} MB)`).toBeLessThan(RSS_BUDGET_MB);
    const late = mqttSubscriber(ports.mqtt);
    cleanups.push(() => void late.child.kill('SIGKILL'));
    await until(() => late.arrivals.length > 0, 'a new MQTT subscriber served after the flood', 30_000);
    const health = (await (await fetch(`http://127.0.0.1:${ports.http}/healthz`)).json()) as { hosts: { id: string; status: string }[] };
    for (const host of health.hosts) expect(host.status, host.id).toBe('alive');
    console.log(`floods: ${opened.length} connections on ${targets.length} listeners; real clients served after ${Object.entries(servedAt).map(([k, t]) => `${k} ${t - startedAt} ms`).join(', ')}; RSS ${rssBefore.toFixed(1)} MB before, ${rssPeak.toFixed(1)} MB peak (budget ${RSS_BUDGET_MB} MB)`);
    expect(await gateway.stop(5000)).toBe(0);
  });
});
