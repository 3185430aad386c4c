/**
 * Minimal raw clients of the five hosts, one set per point, pointed at either the gateway or
 * the raw loop (same addresses, same wire): they count the values they receive, keep when each
 * arrived for the latency match, and send a relay command now and then for the round trip.
 * Kept raw (no php -S, no Python peers) so that at 10,000 values/s the bench, not a peer's
 * runtime, is what runs beside the gateway.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import * as zmq from 'zeromq';
import { plainScript } from './point.js';
import type { WsTallies } from './wsClients.js';
import { COMODOJO_GREETER, comodojoRequest, DOMOGIK_COMMAND_ID, DOMOGIK_DEVICE_ID, domogikService, lines, sensorKey, tracimEnvelope, type Endpoints } from './wire.js';

export const HOSTS = ['jeedom', 'tracim', 'domogik', 'comodojo', 'ws'] as const;
export type HostName = (typeof HOSTS)[number];

/** What one host saw. */
export class HostTally {
  /** Values received while recording. */
  values = 0;
  /** `device\0channel\0value` and the receipt time, for hosts whose wire carries no event time. */
  readonly receipts: [string, number][] = [];
  /** Direct latencies (ws: the event's own gateway `time`). */
  readonly latencies: number[] = [];
  readonly rtts: number[] = [];
  commandsSent = 0;
  failedReplies = 0;
  /** Bytes of periodic `health` messages (ws client 0). */
  healthBytes = 0;
  recording = false;

  constructor(readonly name: string) {}

  /** One value received at `at`, kept for the latency match. */
  value({ device, channel, value }: { device: string; channel: string; value: unknown }, at: number): void {
    if (!this.recording) return;
    this.values++;
    this.receipts.push([`${device}\0${channel}\0${String(value)}`, at]);
  }

  /** Commands numbered in this range were sent while recording: their replies count, whenever they come. */
  window: [number, number] = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];

  reply(seq: number, sentAt: number, ok: boolean): void {
    if (seq < this.window[0] || seq > this.window[1]) return;
    this.rtts.push(performance.now() - sentAt);
    if (!ok) this.failedReplies++;
  }

  /** Commands of the window still without a reply. */
  get unanswered(): number {
    return this.commandsSent - this.rtts.length;
  }
}

const seqOf = (id: string) => Number(id.slice(id.lastIndexOf('-') + 1));

/** Every host's client for one point. */
export class HostClients {
  readonly tallies = new Map<string, HostTally>(HOSTS.map((h) => [h, new HostTally(h)]));
  /** `device\0channel\0value` → ingest times seen by the first ten ws clients (the gateway's event `time`). */
  readonly ingest = new Map<string, number[]>();
  private http: HttpServer | undefined;
  private tracimServer: Server | undefined;
  private sub: zmq.Subscriber | undefined;
  private comodojo: Socket | undefined;
  private readonly comodojoPending: [number, number][] = [];
  private ws: Worker | undefined;
  private readonly jeedomPending = new Map<string, number>();
  private readonly tracimPending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  /** State values ws client 0 received while recording: every value the devices reported, once. */
  valuesIn = 0;
  /** When every ws client was open: ingest times are known from then on. */
  private wsOpenedAt = Date.now();
  /** ws clients the gateway closed during the point. */
  wsDropped = 0;
  private sequence = 0;
  private closed = false;

  constructor(
    private readonly ep: Endpoints,
    private readonly clients: number,
  ) {}

  private tally(name: HostName): HostTally {
    return this.tallies.get(name) as HostTally;
  }

  /** The Jeedom callback: must listen before the gateway starts (its start-up GET). */
  async listenJeedom(): Promise<void> {
    const jeedom = this.tally('jeedom');
    this.http = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const at = Date.now();
        res.end();
        if (req.method !== 'POST') return;
        let body: { devices?: Record<string, Record<string, unknown>>; replies?: Record<string, { ok?: boolean }> };
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
        } catch {
          return;
        }
        for (const [device, channels] of Object.entries(body.devices ?? {})) for (const [channel, value] of Object.entries(channels)) jeedom.value({ device, channel, value }, at);
        for (const [id, reply] of Object.entries(body.replies ?? {})) {
          const sentAt = this.jeedomPending.get(id);
          if (sentAt === undefined) continue;
          this.jeedomPending.delete(id);
          jeedom.reply(seqOf(id), sentAt, reply.ok === true);
        }
      });
    });
    this.http.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.http?.listen(this.ep.jeedomCallback, '127.0.0.1', resolve));
  }

  /** The Tracim client socket: one connection per message, read to EOF, as the SDK does. */
  async listenTracim(): Promise<void> {
    const tracim = this.tally('tracim');
    rmSync(this.ep.tracimClient, { force: true });
    this.tracimServer = createServer((socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', () => undefined);
      socket.on('end', () => {
        const at = Date.now();
        let msg: { type?: string; path?: string; data?: unknown };
        try {
          msg = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof msg;
        } catch {
          return;
        }
        if (msg.type === 'daemon_tracim_event' && typeof msg.data === 'string') {
          const tlm = JSON.parse(msg.data) as { event_type?: string; fields?: { device: string; channel: string; value: unknown } };
          if (tlm.event_type === 'device.modified.state' && tlm.fields) tracim.value(tlm.fields, at);
        } else if (msg.type === 'patchbay_reply') {
          const data = msg.data as { id: string; ok: boolean };
          const sentAt = this.tracimPending.get(String(data.id));
          if (sentAt === undefined) return;
          this.tracimPending.delete(String(data.id));
          tracim.reply(seqOf(String(data.id)), sentAt, data.ok === true);
        } else if (msg.type === 'daemon_ping' && typeof msg.path === 'string') {
          this.sendTracim(msg.path, tracimEnvelope(this.ep.tracimClient, 'daemon_pong', null));
        }
      });
    });
    await new Promise<void>((resolve) => this.tracimServer?.listen(this.ep.tracimClient, resolve));
  }

  private sendTracim(path: string, text: string): void {
    const socket = connect({ path });
    socket.on('error', () => undefined);
    socket.once('connect', () => socket.end(text));
  }

  /** Connects every other client once the far side serves. */
  async connect(): Promise<void> {
    this.sendTracim(this.ep.tracimMaster, tracimEnvelope(this.ep.tracimClient, 'daemon_client_add', { path: this.ep.tracimClient, pid: String(process.pid) }));
    const domogik = this.tally('domogik');
    this.sub = new zmq.Subscriber();
    this.sub.connect(`tcp://127.0.0.1:${this.ep.sub}`);
    this.sub.subscribe('client.sensor');
    void (async () => {
      try {
        for await (const [, data] of this.sub as zmq.Subscriber) {
          const at = Date.now();
          const body = JSON.parse(String(data)) as Record<string, unknown>;
          for (const [key, value] of Object.entries(body)) {
            if (key === 'atTimestamp') continue;
            const [device, channel] = sensorKey(Number(key));
            domogik.value({ device, channel, value: channel === 'relay' ? value === 1 : value }, at);
          }
        }
      } catch {
        // closed
      }
    })();
    const comodojo = this.tally('comodojo');
    this.comodojo = connect(this.ep.comodojo, '127.0.0.1');
    this.comodojo.on('error', () => undefined);
    let greeted = false;
    this.comodojo.on(
      'data',
      lines((line) => {
        if (!greeted) {
          greeted = `${line}\r\n` === COMODOJO_GREETER;
          return;
        }
        const [seq, sentAt] = this.comodojoPending.shift() ?? [];
        if (seq !== undefined && sentAt !== undefined) comodojo.reply(seq, sentAt, Buffer.from(line, 'base64').toString('utf8').includes('"result"'));
      }),
    );
    this.ws = new Worker(plainScript('wsClients'), { workerData: { url: `ws://127.0.0.1:${this.ep.http}/ws`, clients: this.clients } });
    const ws = this.ws;
    await new Promise<void>((resolve, reject) => {
      ws.once('message', (msg: { type: string; error?: string }) => (msg.type === 'open' ? resolve() : reject(new Error(`ws clients: ${msg.error}`))));
      ws.once('error', reject);
    });
    this.wsOpenedAt = Date.now();
  }

  set recording(on: boolean) {
    const window: [number, number] = on ? [this.sequence + 1, Number.POSITIVE_INFINITY] : [this.tally('ws').window[0], this.sequence];
    for (const t of this.tallies.values()) {
      t.recording = on;
      t.window = window;
    }
    this.ws?.postMessage({ type: 'record', on, window });
  }

  /** Resolves once every command of the window has its reply, or after `ms`. */
  async settle(ms: number): Promise<void> {
    const deadline = performance.now() + ms;
    while (performance.now() < deadline && [...this.tallies.values()].some((t) => t.name !== 'ws' && t.unanswered > 0)) await new Promise((r) => setTimeout(r, 50));
  }

  /** Takes the ws clients' tallies (ingest times for the match included) and closes them. */
  async collectWs(): Promise<void> {
    const ws = this.ws;
    if (!ws) return;
    const tallies = await new Promise<WsTallies>((resolve) => {
      ws.on('message', (msg: { type: string; tallies?: WsTallies }) => {
        if (msg.type === 'tallies') resolve(msg.tallies as WsTallies);
      });
      ws.postMessage({ type: 'collect' });
    });
    const tally = this.tally('ws');
    tally.values = tallies.values;
    // (a spread of 100,000 arguments overflows the stack)
    for (const l of tallies.latencies) tally.latencies.push(l);
    for (const r of tallies.rtts) tally.rtts.push(r);
    tally.failedReplies = tallies.failed;
    tally.commandsSent = tallies.commands;
    tally.window = this.tally('jeedom').window;
    tally.healthBytes = tallies.healthBytes;
    this.wsDropped = tallies.dropped;
    this.valuesIn = tallies.valuesIn;
    for (const [key, times] of tallies.ingest) this.ingest.set(key, times);
    await ws.terminate();
    this.ws = undefined;
  }

  /** Every host sends a relay command to d0 each period. */
  startCommands(periodMs: number): void {
    this.timer = setInterval(() => this.commandRound(), periodMs);
  }

  private commandRound(): void {
    const seq = ++this.sequence;
    const value = seq % 2 === 0;
    const sentAt = performance.now();
    const id = (host: string) => `${host}-${seq}`;
    const record = (host: HostName) => {
      if (this.tally(host).recording) this.tally(host).commandsSent++;
    };
    // Jeedom: one JSON per connection, as sendToDaemon does.
    this.jeedomPending.set(id('jeedom'), sentAt);
    record('jeedom');
    const jeedom = connect(this.ep.jeedomSocket, '127.0.0.1');
    jeedom.on('error', () => undefined);
    jeedom.once('connect', () => jeedom.end(JSON.stringify({ apikey: this.ep.apikey, action: 'command', device: 'd0', channel: 'relay', value, id: id('jeedom') })));
    this.tracimPending.set(id('tracim'), sentAt);
    record('tracim');
    this.sendTracim(this.ep.tracimMaster, tracimEnvelope(this.ep.tracimClient, 'patchbay_command', { id: id('tracim'), device: 'd0', channel: 'relay', value }));
    record('domogik');
    void this.domogikCommand(seq, value, sentAt);
    record('comodojo');
    this.comodojoPending.push([seq, sentAt]);
    this.comodojo?.write(comodojoRequest(JSON.stringify({ jsonrpc: '2.0', method: 'device.command', params: { device: 'd0', channel: 'relay', value }, id: seq })));
    this.ws?.postMessage({ type: 'command', id: id('ws'), seq, value });
  }

  /** A fresh REQ per request, as Domogik's MQSyncReq. */
  private async domogikCommand(seq: number, value: boolean, sentAt: number): Promise<void> {
    const req = new zmq.Request({ receiveTimeout: 10_000, linger: 0 });
    try {
      req.connect(`tcp://127.0.0.1:${this.ep.reqRep}`);
      const data = { command_id: DOMOGIK_COMMAND_ID, device_id: DOMOGIK_DEVICE_ID, value: value ? '1' : '0' };
      await req.send(['MDPC01', domogikService(this.ep.domogikHost), '10', 'client.cmd', JSON.stringify(data)]);
      const reply = await req.receive();
      const body = JSON.parse(String(reply[3] ?? '{}')) as { status?: boolean };
      if (!this.closed) this.tally('domogik').reply(seq, sentAt, body.status === true);
    } catch {
      if (!this.closed) this.tally('domogik').failedReplies++;
    } finally {
      req.close();
    }
  }

  stopCommands(): void {
    clearInterval(this.timer);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopCommands();
    await this.ws?.terminate();
    this.comodojo?.destroy();
    this.sub?.close();
    this.tracimServer?.close();
    this.http?.closeAllConnections();
    this.http?.close();
    rmSync(this.ep.tracimClient, { force: true });
  }

  /**
   * Ingest-to-host latency of a host with no event time on its wire: each value is matched to
   * the latest ingest time the ws clients saw for the same device, channel and value at or
   * before its receipt (values repeat, so this errs short). A value with no match was ingested
   * before the ws clients connected (a host far behind): it counts from then, a lower bound.
   */
  matchedLatencies(name: HostName): { latencies: number[]; lowerBounds: number } {
    const tally = this.tally(name);
    if (name === 'ws') return { latencies: tally.latencies, lowerBounds: 0 };
    const latencies: number[] = [];
    let lowerBounds = 0;
    for (const [key, at] of tally.receipts) {
      let best: number | undefined;
      for (const t of this.ingest.get(key) ?? []) if (t <= at && (best === undefined || t > best)) best = t;
      if (best === undefined) lowerBounds++;
      latencies.push(at - (best ?? this.wsOpenedAt));
    }
    return { latencies, lowerBounds };
  }
}
