import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { describeError, ErrorCodes, PatchbayError, type Counter, type GatewayHealth, type HostContext, type OutboundEvent, type ReplyEvent } from '@patchbay/core';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { checkUpgrade, refuse, selectProtocol, type UpgradeRefusal } from './auth.js';
import { ClientWrites, type WritableClient } from './clientWrites.js';
import type { WsConfig } from '../config.js';
import { healthBaseline, healthChanges, type HealthBaseline } from '../protocol/healthChanges.js';
import { encodeBroadcast, encodeError, encodeHealthChanges, encodeRefusal, encodeReply, encodeSnapshot, parseClientMessage, WireErrors, type ClientCommand } from '../protocol/messages.js';

/** Figures about the server, for tests, benchmarks and people. */
export interface WsServerStats {
  /** Connected clients. */
  clients: number;
  /** Clients dropped because their unsent backlog passed `maxBufferedBytes`. */
  slowDropped: number;
  /** Clients dropped because their backlog did not move for `stallTimeoutMs`. */
  stalledDropped: number;
  /** The largest unsent backlog any client had after a write to it (its part of a batch, a frame of its own), bytes: bounded by `maxBufferedBytes` plus one message (plus its snapshot, while a new client reads that). */
  maxBufferedSeen: number;
  /** Upgrades refused (token, origin, too many clients). */
  rejectedUpgrades: number;
  /** Messages refused (malformed, binary, oversized, too many pending). */
  badMessages: number;
}

interface Client extends WritableClient {
  /** Unique across runs, so a reply recovered from the journal never reaches a stranger. */
  key: string;
  remote: string;
  pending: number;
  /** Answered the last keep-alive ping. */
  alive: boolean;
  /** Bytes whose write had completed at the last stall check. */
  flushed: number;
  /** Since when (ms) its backlog has not moved; undefined while it has none or it moves. */
  stuckSince: number | undefined;
  /** The health it was sent with its snapshot, until the next health message brings it in line. */
  healthBase: HealthBaseline | undefined;
}

interface Counters {
  rejected: Counter;
  bad: Counter;
  slow: Counter;
  stalled: Counter;
  commands: Counter;
}

/**
 * The WebSocket endpoint: accepts clients at upgrade (origin, token, capacity), greets each
 * with a snapshot, fans events out, runs their commands and answers only the asker. A client
 * whose backlog passes the bound is dropped, so one stalled reader never grows memory.
 */
export class WsServer {
  private readonly clients = new Set<Client>();
  private readonly byKey = new Map<string, Client>();
  private readonly instanceTag = randomBytes(4).toString('hex');
  private seq = 0;
  private wss: WebSocketServer | undefined;
  private unmount: (() => void) | undefined;
  private timers: NodeJS.Timeout[] = [];
  private readonly counters: Counters;
  private readonly figures = { slowDropped: 0, stalledDropped: 0, rejectedUpgrades: 0, badMessages: 0 };
  /** The health as the clients that had a health message know it. */
  private healthBase: HealthBaseline | undefined;
  private readonly writes: ClientWrites<Client>;

  constructor(
    private readonly config: WsConfig,
    private readonly ctx: HostContext,
  ) {
    this.writes = new ClientWrites(this.clients, { maxBufferedBytes: config.maxBufferedBytes, overBound: (client) => this.dropSlow(client) });
    this.counters = {
      rejected: ctx.counter('patchbay_ws_upgrades_rejected_total', 'WebSocket upgrades refused (token, origin, capacity)'),
      bad: ctx.counter('patchbay_ws_bad_messages_total', 'WebSocket client messages refused (malformed, binary, oversized, too many pending)'),
      slow: ctx.counter('patchbay_ws_slow_clients_dropped_total', 'WebSocket clients dropped because their unsent backlog passed maxBufferedBytes'),
      stalled: ctx.counter('patchbay_ws_stalled_clients_dropped_total', 'WebSocket clients dropped because their backlog did not move for stallTimeoutMs'),
      commands: ctx.counter('patchbay_ws_commands_total', 'Commands received from WebSocket clients'),
    };
  }

  /** Mount on the gateway's HTTP server and start the health and keep-alive timers. */
  start(): void {
    const http = this.ctx.http;
    if (http === undefined) {
      throw new PatchbayError(
        ErrorCodes.CONFIG_INVALID,
        `host ${this.ctx.id} (ws) serves on the gateway's HTTP server, but this gateway runs none: configure gateway.http or remove this host`,
        { context: { host: this.ctx.id } },
      );
    }
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: this.config.maxPayload,
      // Also what lets a turn's batch of broadcasts go straight to each socket (FrameBatch): with
      // compression, ws would queue its own frames while it deflates, and they would fall behind.
      perMessageDeflate: false,
      handleProtocols: selectProtocol,
    });
    this.unmount = http.upgrade(this.config.path, (request, socket, head) => this.onUpgrade(request, socket, head));
    if (this.config.healthIntervalMs > 0) this.timers.push(setInterval(() => this.broadcastHealth(), this.config.healthIntervalMs));
    if (this.config.pingIntervalMs > 0) this.timers.push(setInterval(() => this.keepAlive(), this.config.pingIntervalMs));
    // Checked four times per period, so a stalled client goes within 1.25 × stallTimeoutMs.
    if (this.config.stallTimeoutMs > 0) this.timers.push(setInterval(() => this.dropStalled(), Math.max(10, this.config.stallTimeoutMs >> 2)));
    this.reportConnection();
    for (const timer of this.timers) timer.unref();
  }

  /** Unmount, close every client with 1001 (going away) and wait briefly for them to go. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.unmount?.();
    this.unmount = undefined;
    const closing = [...this.clients].map(
      (client) =>
        new Promise<void>((resolve) => {
          if (client.socket.readyState === WebSocket.CLOSED) return resolve();
          const timer = setTimeout(() => {
            client.socket.terminate();
            resolve();
          }, 1000);
          client.socket.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          client.socket.close(1001, 'gateway stopping');
        }),
    );
    await Promise.all(closing);
    this.clients.clear();
    this.byKey.clear();
    this.wss?.close();
    this.wss = undefined;
  }

  /** Fan an event out: state and status to everyone, a reply only to the client that asked. */
  deliver(event: OutboundEvent): void {
    if (event.kind === 'reply') {
      // Only reaches here for replies routed through the outbox (e.g. failed after a restart).
      const key = event.meta?.wsClient;
      const client = typeof key === 'string' ? this.byKey.get(key) : undefined;
      if (client && event.ref !== undefined) this.writes.send(client, encodeReply(event.ref, event));
      return;
    }
    if (this.clients.size === 0) return;
    const text = encodeBroadcast(event);
    if (text !== undefined) this.writes.broadcast(text);
  }

  /** Current figures. */
  stats(): WsServerStats {
    return { clients: this.clients.size, ...this.figures, maxBufferedSeen: this.writes.maxBufferedSeen };
  }

  /**
   * Health changes, not the whole report (issue 14.3): each client got the whole report with its
   * snapshot; from then on it gets what changed since the last message, and nothing when nothing
   * did. A client that joined since the last tick is brought in line from its own snapshot.
   */
  private broadcastHealth(): void {
    if (this.clients.size === 0) {
      this.healthBase = undefined;
      return;
    }
    const health = this.ctx.health();
    const next = healthBaseline(health);
    const shared = this.healthBase;
    let text: Buffer | undefined;
    if (shared !== undefined) {
      const changes = healthChanges(shared, health, next);
      if (changes !== undefined) text = Buffer.from(encodeHealthChanges(changes, health.uptimeMs));
    }
    for (const client of this.clients) {
      const own = client.healthBase;
      if (own === undefined) {
        if (text !== undefined) this.writes.send(client, text);
        continue;
      }
      client.healthBase = undefined;
      const changes = healthChanges(own, health, next);
      if (changes !== undefined) this.writes.send(client, encodeHealthChanges(changes, health.uptimeMs));
    }
    this.healthBase = next;
  }

  /** The platform side of this host is its clients (issue 14.2). */
  private reportConnection(): void {
    const peers = this.clients.size;
    this.ctx.connection({ connected: peers > 0, peers, detail: `${peers} WebSocket client${peers === 1 ? '' : 's'}` });
  }

  /**
   * A client that reads nothing may never reach `maxBufferedBytes` (health now sends only
   * changes), yet holds its backlog for good: once bytes wait and none of them has left for
   * `stallTimeoutMs`, it is dropped, logged once (issue 13.4).
   */
  private dropStalled(): void {
    const now = Date.now();
    for (const client of [...this.clients]) {
      if (client.socket.bufferedAmount === 0) {
        client.stuckSince = undefined;
        continue;
      }
      const flushed = client.raw.bytesWritten - client.raw.writableLength;
      if (flushed !== client.flushed || client.stuckSince === undefined) {
        client.flushed = flushed;
        client.stuckSince = now;
        continue;
      }
      const stuckMs = now - client.stuckSince;
      if (stuckMs < this.config.stallTimeoutMs) continue;
      this.figures.stalledDropped++;
      this.counters.stalled.inc();
      this.ctx.logger.warn(
        { client: client.key, remote: client.remote, buffered: client.socket.bufferedAmount, stuckMs },
        `ws client ${client.remote} dropped: its backlog of ${client.socket.bufferedAmount} bytes has not moved for ${stuckMs} ms (stallTimeoutMs ${this.config.stallTimeoutMs}); it gets a fresh snapshot when it reconnects`,
      );
      this.forget(client);
      client.socket.terminate();
    }
  }

  private dropSlow(client: Client): void {
    this.figures.slowDropped++;
    this.counters.slow.inc();
    this.ctx.logger.warn(
      { client: client.key, remote: client.remote, buffered: client.socket.bufferedAmount, maxBufferedBytes: this.config.maxBufferedBytes },
      `ws client ${client.remote} dropped: it stopped reading and its backlog passed ${this.config.maxBufferedBytes} bytes; it gets a fresh snapshot when it reconnects`,
    );
    this.forget(client);
    client.socket.terminate();
  }

  private forget(client: Client): void {
    if (!this.clients.delete(client)) return;
    this.byKey.delete(client.key);
    this.reportConnection();
  }

  private onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // node:http hands the socket over without its own 'error' listener: a client resetting the
    // connection while we answer would otherwise be an uncaught ECONNRESET ending the process.
    socket.on('error', (error: Error) => this.ctx.logger.debug({ err: error, remote: remoteOf(request) }, 'ws upgrade connection failed'));
    const wss = this.wss;
    const url = new URL(request.url ?? '/', 'http://localhost');
    let refusal: UpgradeRefusal | undefined = checkUpgrade(request, url, { token: this.config.token, allowedOrigins: this.config.allowedOrigins });
    if (!refusal && this.clients.size >= this.config.maxClients) refusal = { status: 503, reason: `too many clients (maxClients ${this.config.maxClients})` };
    if (!refusal && wss === undefined) refusal = { status: 503, reason: 'the WebSocket API is stopping' };
    if (refusal || wss === undefined) {
      const r = refusal as UpgradeRefusal;
      this.figures.rejectedUpgrades++;
      this.counters.rejected.inc();
      this.ctx.logger.warn({ remote: remoteOf(request), origin: request.headers.origin, status: r.status }, `ws upgrade refused: ${r.reason}`);
      refuse(socket, r);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws, request));
  }

  private accept(socket: WebSocket, request: IncomingMessage): void {
    const health: GatewayHealth = this.ctx.health();
    const client: Client = {
      key: `${this.instanceTag}:${++this.seq}`,
      socket,
      remote: remoteOf(request),
      pending: 0,
      alive: true,
      raw: request.socket,
      batchFrom: this.writes.joinAt,
      crossAt: Number.POSITIVE_INFINITY,
      flushed: 0,
      stuckSince: undefined,
      healthBase: this.config.healthIntervalMs > 0 ? healthBaseline(health) : undefined,
      snapshotAllowance: 0,
    };
    // Snapshot and registration in the same turn: no event can fall between them.
    this.clients.add(client);
    this.byKey.set(client.key, client);
    this.reportConnection();
    const snapshot = encodeSnapshot(this.ctx.snapshot(), health);
    this.writes.send(client, snapshot);
    client.snapshotAllowance = Buffer.byteLength(snapshot);
    this.writes.rebound(client);
    socket.on('message', (data, isBinary) => this.onMessage(client, data, isBinary));
    socket.on('pong', () => {
      client.alive = true;
    });
    socket.on('close', () => this.forget(client));
    socket.on('error', (error: Error & { code?: string }) => {
      // ws closes the socket itself (1009 for an oversized message, 1002 for a protocol error).
      this.refuseMessage(client, `${error.message}${error.code ? ` (${error.code})` : ''}; connection closed`);
    });
  }

  private onMessage(client: Client, data: RawData, isBinary: boolean): void {
    try {
      this.handleMessage(client, data, isBinary);
    } catch (error) {
      // A bug of ours, or input the checks missed: thrown from ws's callback it would end the process.
      this.refuseMessage(client, `could not be handled (${describeError(error)})`);
    }
  }

  private handleMessage(client: Client, data: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.refuseMessage(client, 'binary messages are not accepted: send JSON text');
      return;
    }
    const parsed = parseClientMessage(rawText(data));
    if (!parsed.ok) {
      this.refuseMessage(client, parsed.error, parsed.id);
      return;
    }
    this.runCommand(client, parsed.command);
  }

  private refuseMessage(client: Client, error: string, id?: string | number): void {
    this.figures.badMessages++;
    this.counters.bad.inc();
    this.ctx.logger.warn({ client: client.key, remote: client.remote, id }, `ws message from ${client.remote} refused: ${error}`);
    this.writes.send(client, encodeError({ code: WireErrors.BAD_MESSAGE, error, id }));
  }

  private runCommand(client: Client, command: ClientCommand): void {
    this.counters.commands.inc();
    if (client.pending >= this.config.maxPendingCommands) {
      this.figures.badMessages++;
      this.counters.bad.inc();
      this.ctx.logger.warn({ client: client.key, id: command.id }, `ws client ${client.remote} has ${client.pending} unanswered commands; refused another`);
      this.writes.send(client, encodeRefusal(command.id, command.device, { code: WireErrors.TOO_MANY_PENDING, error: `too many unanswered commands (maxPendingCommands ${this.config.maxPendingCommands})` }));
      return;
    }
    client.pending++;
    // Every command gets exactly one answer, sent to this client only. submit never rejects, by
    // contract; should it reject or throw all the same, the asker is told and nothing escapes.
    void new Promise<ReplyEvent>((resolve) =>
      resolve(
        this.ctx.submit({
          device: command.device,
          channel: command.channel,
          action: command.action,
          value: command.value,
          args: command.args,
          ref: String(command.id),
          meta: { wsClient: client.key },
        }),
      ),
    ).then(
      (reply) => {
        client.pending--;
        this.writes.send(client, encodeReply(command.id, reply));
      },
      (error: unknown) => {
        client.pending--;
        this.refuseMessage(client, `could not be run (${describeError(error)})`, command.id);
      },
    );
  }

  private keepAlive(): void {
    for (const client of [...this.clients]) {
      if (!client.alive) {
        this.ctx.logger.info({ client: client.key, remote: client.remote }, `ws client ${client.remote} missed a keep-alive pong; dropped`);
        this.forget(client);
        client.socket.terminate();
        continue;
      }
      client.alive = false;
      client.socket.ping();
    }
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}

function remoteOf(request: IncomingMessage): string {
  const { remoteAddress, remotePort } = request.socket;
  return remoteAddress ? `${remoteAddress}:${remotePort ?? '?'}` : 'unknown';
}
