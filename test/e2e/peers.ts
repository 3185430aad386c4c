/**
 * Drivers for the real host peers of the end-to-end scenario (test/peers/<host>/): each one
 * sends commands like its host platform does and records what it receives, into a
 * {@link HostStats} the scenario turns into figures. Every peer can be stopped and started
 * again (the fault suite's host outages).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync, statSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot, Signal } from '@patchbay/testing';
import WebSocket from 'ws';

/** One command a host sent, and what came back. */
export interface CommandRecord {
  id: string;
  sentAt: number;
  replies: number;
  ok?: boolean;
  error?: string;
  rttMs?: number;
  /** The command could not even be handed over (connection refused): the host knows at once. */
  refused?: boolean;
  /** The client itself went away before the reply (ws: replies go to the asking connection only). */
  abandoned?: boolean;
  /** When the gateway said it had taken the command (Jeedom: its FIN once the command is journaled). */
  acceptedAt?: number;
  /** The first reply as it came, to tell a repeat of it from a second, different reply. */
  firstReply?: string;
  /** Replies after the first: when, and whether each was the first one again. */
  repeats?: { at: number; same: boolean }[];
}

/** What one host saw during a run. */
export interface HostStats {
  name: string;
  /** State values received (after the host's own coalescing). */
  delivered: number;
  /** State messages seen twice (only where the wire carries an event id). */
  duplicates: number;
  /** Latest value received per channel. */
  last: Record<string, unknown>;
  /** `[channel, value, receivedAtMs, gatewayTimeMs?]` of temperature values, for latency. */
  samples: [string, unknown, number, number?][];
  commands: Map<string, CommandRecord>;
}

/** A host peer the scenario drives. */
export interface HostPeer {
  readonly stats: HostStats;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Sends a relay command with this id. */
  command(id: string, value: boolean): void;
}

/** Notified whenever any peer's stats change, so the scenario awaits them instead of polling. */
export const statsChanged = new Signal();

export function newStats(name: string): HostStats {
  return { name, delivered: 0, duplicates: 0, last: {}, samples: [], commands: new Map() };
}

/** Records one state value. */
function onState(stats: HostStats, state: { channel: string; value: unknown; at: number; gatewayTime?: number }): void {
  const { channel, value, at, gatewayTime } = state;
  stats.delivered++;
  stats.last[channel] = value;
  if (channel === 'temperature') stats.samples.push([channel, value, at, gatewayTime]);
  statsChanged.notify();
}

/** Records one reply. */
function onReply(stats: HostStats, { id, reply, at }: { id: string; reply: { ok: boolean; error?: string }; at: number }): void {
  const record = stats.commands.get(id);
  if (!record) return;
  record.replies++;
  statsChanged.notify();
  const text = JSON.stringify(reply);
  if (record.replies > 1) {
    (record.repeats ??= []).push({ at, same: text === record.firstReply });
    return;
  }
  record.firstReply = text;
  record.ok = reply.ok;
  if (reply.error !== undefined) record.error = reply.error;
  record.rttMs = at - record.sentAt;
}

function sent(stats: HostStats, id: string): CommandRecord {
  const record: CommandRecord = { id, sentAt: Date.now(), replies: 0 };
  stats.commands.set(id, record);
  return record;
}

/** A child process whose stdout is JSON lines. */
function spawnLines(command: string, args: string[], { onLine, env }: { onLine: (line: Record<string, unknown>, at: number) => void; env?: NodeJS.ProcessEnv }): ChildProcess {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const at = Date.now();
    try {
      onLine(JSON.parse(line) as Record<string, unknown>, at);
    } catch {
      // a non-JSON line (a warning) is not an event
    }
  });
  child.stderr?.resume();
  child.stdin?.on('error', () => undefined);
  return child;
}

async function killAndWait(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await exited;
}

/**
 * Jeedom: the callback script served by `php -S` (protocols/jeedom.md §4.6), and commands
 * written on a fresh TCP connection each, as Jeedom's `sendToDaemon` does (json_encode, close).
 */
export class JeedomPeer implements HostPeer {
  readonly stats = newStats('jeedom');
  private server: ChildProcess | undefined;
  private offset = 0;
  private watcher: FSWatcher | undefined;

  constructor(private readonly options: { httpPort: number; socketPort: number; apikey: string; logFile: string }) {}

  async start(): Promise<void> {
    const script = join(repoRoot, 'test/peers/jeedom/callback.php');
    if (!existsSync(this.options.logFile)) writeFileSync(this.options.logFile, '');
    // Every request the script records is an append to its log: read the new lines then.
    this.watcher ??= watch(this.options.logFile, () => this.poll());
    const server = spawn('php', ['-S', `127.0.0.1:${this.options.httpPort}`, script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, JEEDOM_PEER_LOG: this.options.logFile, JEEDOM_PEER_APIKEY: this.options.apikey },
    });
    this.server = server;
    // php -S announces "Development Server (http://...) started" once it listens.
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('started')) {
          server.stdout?.resume();
          server.stderr?.resume();
          resolve();
        }
      };
      server.stdout?.on('data', onData);
      server.stderr?.on('data', onData);
      server.once('exit', (code) => reject(new Error(`php -S on port ${this.options.httpPort} exited (${code}): ${output}`)));
    });
  }

  async stop(): Promise<void> {
    await killAndWait(this.server, 'SIGTERM');
    this.server = undefined;
  }

  /** Stops the log reader too (end of the run). */
  async close(): Promise<void> {
    await this.stop();
    this.poll();
    this.watcher?.close();
    this.watcher = undefined;
  }

  command(id: string, value: boolean): void {
    const record = sent(this.stats, id);
    const socket = connect(this.options.socketPort, '127.0.0.1');
    socket.on('connect', () => socket.end(JSON.stringify({ apikey: this.options.apikey, action: 'command', device: 'dev', channel: 'relay', value, id })));
    // The gateway closes its side once the command is journaled (journal before ack): from then on
    // it owes a reply, even across a kill -9. A FIN that comes after a kill is the kernel's, not that.
    socket.once('end', () => (record.acceptedAt = Date.now()));
    socket.resume();
    socket.on('error', () => {
      if (socket.bytesWritten) return;
      record.refused = true;
      statsChanged.notify();
    });
  }

  /** Reads the callback log's new lines: `{"devices":…}` and `{"replies":…}` bodies. */
  poll(): void {
    if (!existsSync(this.options.logFile)) return;
    const size = statSync(this.options.logFile).size;
    if (size <= this.offset) return;
    const fd = openSync(this.options.logFile, 'r');
    const buffer = Buffer.alloc(size - this.offset);
    readSync(fd, buffer, 0, buffer.length, this.offset);
    closeSync(fd);
    const text = buffer.toString('utf8');
    const end = text.lastIndexOf('\n') + 1;
    this.offset += Buffer.byteLength(text.slice(0, end));
    for (const line of text.slice(0, end).split('\n')) {
      if (!line) continue;
      const record = JSON.parse(line) as { time: number; method: string; decoded?: Record<string, Record<string, unknown>> | null };
      if (record.method !== 'POST' || !record.decoded) continue;
      const at = record.time * 1000;
      for (const channels of Object.values(record.decoded.devices ?? {})) {
        for (const [channel, value] of Object.entries(channels as Record<string, unknown>)) onState(this.stats, { channel, value, at });
      }
      for (const [id, reply] of Object.entries(record.decoded.replies ?? {})) onReply(this.stats, { id, reply: reply as { ok: boolean; error?: string }, at });
    }
    statsChanged.notify();
  }
}

/** Tracim: the SDK-like Python client registered with the gateway's master socket (protocols/tracim.md §7.1). */
export class TracimPeer implements HostPeer {
  readonly stats = newStats('tracim');
  private child: ChildProcess | undefined;
  private readonly seen = new Set<number>();
  private listening = false;

  constructor(private readonly options: { master: string; socket: string }) {}

  async start(): Promise<void> {
    if (this.child) {
      // An outage of the client: it comes back on the same path, without registering again.
      this.send({ cmd: 'start_listening' });
      this.listening = true;
      return;
    }
    let ready: () => void = () => undefined;
    const listening = new Promise<void>((resolve) => (ready = resolve));
    this.child = spawnLines('/usr/bin/python3', [join(repoRoot, 'test/peers/tracim/client.py'), '--master', this.options.master, '--socket', this.options.socket], { onLine: (line) => {
      if (line.ev === 'ready') ready();
      if (line.ev === 'recv') this.onMessage(line.msg as { type?: string; data?: unknown }, Number(line.at) * 1000);
    } });
    await listening;
    this.listening = true;
  }

  async stop(): Promise<void> {
    this.send({ cmd: 'stop_listening' });
    this.listening = false;
  }

  async close(): Promise<void> {
    // It unregisters (twice, as the SDK does) and exits by itself; SIGKILL only if it hangs.
    const child = this.child;
    this.send({ cmd: 'exit' });
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await killAndWait(child);
    this.child = undefined;
  }

  /** Re-registers (after the gateway restarted and forgot its clients); event ids start again. */
  register(): void {
    this.seen.clear();
    this.send({ cmd: 'register' });
  }

  get isListening(): boolean {
    return this.listening;
  }

  command(id: string, value: boolean): void {
    sent(this.stats, id);
    this.send({ cmd: 'send', msg: { path: this.options.socket, type: 'patchbay_command', data: { id, device: 'dev', channel: 'relay', value } } });
  }

  private send(cmd: unknown): void {
    this.child?.stdin?.write(JSON.stringify(cmd) + '\n');
  }

  private onMessage(msg: { type?: string; data?: unknown } | undefined, at: number): void {
    if (!msg) return;
    if (msg.type === 'patchbay_reply') {
      const data = msg.data as { id: string; ok: boolean; error?: string };
      onReply(this.stats, { id: String(data.id), reply: data, at });
    } else if (msg.type === 'daemon_tracim_event' && typeof msg.data === 'string') {
      const tlm = JSON.parse(msg.data) as { event_id: number; event_type: string; fields: { channel: string; value: unknown } };
      if (tlm.event_type !== 'device.modified.state') return;
      if (this.seen.has(tlm.event_id)) this.stats.duplicates++;
      this.seen.add(tlm.event_id);
      onState(this.stats, { channel: tlm.fields.channel, value: tlm.fields.value, at });
    }
  }
}

/** Sensor and command ids the scenario maps for Domogik (configService none). */
export const domogikIds = { sensors: { 'dev.temperature': 1, 'dev.humidity': 2, 'dev.relay': 3 }, commands: { 'dev.relay': 10 }, deviceIds: { dev: 7 } };
const domogikChannels: Record<string, string> = { '1': 'temperature', '2': 'humidity', '3': 'relay' };

/** Domogik: the Python peer on the adapter's embedded bus, as MQAsyncSub subscriber and xplgw-like `client.cmd` sender. */
export class DomogikPeer implements HostPeer {
  readonly stats = newStats('domogik');
  private child: ChildProcess | undefined;

  constructor(private readonly options: { reqRep: number; pub: number; sub: number; service: string }) {}

  async start(): Promise<void> {
    let ready: () => void = () => undefined;
    const subscribed = new Promise<void>((resolve) => (ready = resolve));
    const { reqRep, pub, sub } = this.options;
    this.child = spawnLines('/usr/bin/python3', [join(repoRoot, 'test/peers/domogik/peer.py'), '--ip', '127.0.0.1', '--req-rep', String(reqRep), '--pub', String(pub), '--sub', String(sub)], { onLine: (line, at) => {
      if (line.event === 'subscribed') ready();
      if (line.event === 'pub' && line.category === 'client.sensor') {
        for (const [key, value] of Object.entries(line.data as Record<string, unknown>)) {
          const channel = domogikChannels[key];
          if (channel) onState(this.stats, { channel, value: channel === 'relay' ? value === 1 || value === '1' : value, at });
        }
      }
      if (line.event === 'reply') {
        const data = (line.data ?? {}) as { status?: boolean; reason?: string };
        onReply(this.stats, { id: String(line.id), reply: { ok: data.status === true, ...(data.reason ? { error: data.reason } : {}) }, at });
      }
      if (line.event === 'timeout') onReply(this.stats, { id: String(line.id), reply: { ok: false, error: 'timeout (no reply on the bus)' }, at });
    } });
    this.child.stdin?.write(JSON.stringify({ op: 'subscribe', categories: ['client.sensor'] }) + '\n');
    await subscribed;
  }

  async stop(): Promise<void> {
    // The asker goes away: a request still waiting on its REQ socket can get no reply (every
    // older one has its reply or the peer's own 10 s timeout already), as for ws.
    const child = this.child;
    this.child = undefined;
    for (const record of this.stats.commands.values()) if (record.replies === 0) record.abandoned = true;
    statsChanged.notify();
    await killAndWait(child);
  }

  close(): Promise<void> {
    return this.stop();
  }

  command(id: string, value: boolean): void {
    if (!this.child) return;
    sent(this.stats, id);
    const data = { command_id: 10, device_id: 7, value: value ? '1' : '0' };
    this.child.stdin?.write(JSON.stringify({ op: 'request', id, service: this.options.service, action: 'client.cmd', data, timeout: 10 }) + '\n');
  }
}

/**
 * Comodojo: the PHP client (protocols/comodojo.md) on one persistent connection per job: a
 * `device.command` then a 100 ms wait, repeated, then `device.state`. Replies come when the job ends.
 */
export class ComodojoPeer implements HostPeer {
  readonly stats = newStats('comodojo');
  private pending: { id: string; value: boolean }[] = [];
  private running = true;
  private job: Promise<void> | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: { socket: string; batch?: number }) {}

  async start(): Promise<void> {
    this.running = true;
    this.loop ??= this.run();
    this.wake();
  }

  /** The host stops calling: queued commands are not sent until it starts again. */
  async stop(): Promise<void> {
    this.running = false;
    await this.job;
  }

  async close(): Promise<void> {
    this.running = false;
    const loop = this.loop;
    this.loop = undefined;
    this.closed = true;
    this.wake();
    await loop;
  }

  private closed = false;
  private wakeUp: (() => void) | undefined;
  private inJob = false;

  /** Nothing queued and no job running. */
  get idle(): boolean {
    return !this.inJob && (this.pending.length === 0 || !this.running);
  }

  /** Queued; sent with the next job. Only a sent command counts as sent. */
  command(id: string, value: boolean): void {
    if (!this.running) return;
    this.pending.push({ id, value });
    this.wake();
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      if (!this.running || this.pending.length === 0) {
        // Idle until a command is queued, the host starts again, or the run ends.
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
        continue;
      }
      const calls = this.pending.splice(0, this.options.batch ?? 10);
      this.inJob = true;
      this.job = this.runJob(calls);
      await this.job;
      this.inJob = false;
      statsChanged.notify();
    }
  }

  /** Final state through `device.state`. */
  async state(): Promise<Record<string, unknown> | undefined> {
    const out = await runPhp({ socket: this.options.socket, steps: [{ op: 'call', method: 'device.state', params: { device: 'dev' }, id: 's' }] });
    const decoded = out?.results[0]?.decoded as { result?: { channels?: Record<string, unknown> } } | undefined;
    return decoded?.result?.channels;
  }

  private async runJob(calls: { id: string; value: boolean }[]): Promise<void> {
    const steps: unknown[] = [];
    for (const call of calls) {
      steps.push({ op: 'call', method: 'device.command', params: { device: 'dev', channel: 'relay', value: call.value }, id: call.id });
      steps.push({ op: 'read', timeout_ms: 90 });
    }
    const records = calls.map((c) => sent(this.stats, c.id));
    const started = Date.now();
    const out = await runPhp({ socket: this.options.socket, steps });
    const at = Date.now();
    records.forEach((record, i) => {
      const result = out?.results[i * 2] as { decoded?: { result?: unknown; error?: { message?: string } } } | undefined;
      if (!result) {
        // The connection failed before this call: the PHP caller saw an exception, a clear failure.
        record.refused = true;
        return;
      }
      // The PHP client measures nothing per call: the round trip is the job's share per call, minus the waits.
      record.sentAt = started;
      onReply(this.stats, { id: record.id, reply: result.decoded?.error ? { ok: false, error: String(result.decoded.error.message) } : { ok: true }, at: started + Math.max(0, (at - started) / calls.length - 90) });
      if (result.decoded && !result.decoded.error) this.stats.last.relay = calls[i]?.value;
    });
    statsChanged.notify();
  }
}

/** Runs the PHP client with a job; undefined when it failed (connection refused). */
function runPhp(job: unknown): Promise<{ results: Record<string, unknown>[] } | undefined> {
  return new Promise((resolve) => {
    const child = spawn('php', [join(repoRoot, 'test/peers/comodojo/client.php'), '-'], { stdio: ['pipe', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.on('close', () => {
      try {
        resolve(JSON.parse(stdout) as { results: Record<string, unknown>[] });
      } catch {
        resolve(undefined);
      }
    });
    child.stdin.end(JSON.stringify(job));
  });
}

/** The WebSocket API: one client, state with the gateway's event time, replies by id. */
export class WsPeer implements HostPeer {
  readonly stats = newStats('ws');
  private socket: WebSocket | undefined;
  private readonly seen = new Set<string>();

  constructor(private readonly url: () => string) {}

  /** A restarted gateway numbers its events again. */
  resetIds(): void {
    this.seen.clear();
  }

  async start(): Promise<void> {
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.on('message', (data) => {
      const at = Date.now();
      const msg = JSON.parse(String(data)) as Record<string, unknown>;
      if (msg.type === 'state') {
        const id = String(msg.id);
        if (this.seen.has(id)) this.stats.duplicates++;
        this.seen.add(id);
        onState(this.stats, { channel: String(msg.channel), value: msg.value, at, gatewayTime: Number(msg.time) });
      } else if (msg.type === 'snapshot') {
        for (const device of msg.devices as { channels: { channel: string; value: unknown }[] }[]) for (const c of device.channels) this.stats.last[c.channel] = c.value;
        statsChanged.notify();
      } else if (msg.type === 'reply') {
        onReply(this.stats, { id: String(msg.id), reply: msg as unknown as { ok: boolean; error?: string }, at });
      }
    });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    for (const record of this.stats.commands.values()) if (record.replies === 0) record.abandoned = true;
    statsChanged.notify();
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.terminate();
    });
  }

  close(): Promise<void> {
    return this.stop();
  }

  get open(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  command(id: string, value: boolean): void {
    if (!this.open) return; // a disconnected client cannot send; it is not a lost command
    sent(this.stats, id);
    this.socket?.send(JSON.stringify({ type: 'command', id, device: 'dev', channel: 'relay', value }));
  }
}

