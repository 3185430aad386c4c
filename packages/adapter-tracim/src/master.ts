import type { Server, Socket } from 'node:net';
import {
  describeError,
  ErrorCodes,
  PatchbayError,
  type Adapter,
  type AvailabilityEvent,
  type ChannelDescription,
  type Counter,
  type DeviceDescription,
  type HostContext,
  type JsonValue,
  type MomentaryEvent,
  type OutboundEvent,
  type ReplyEvent,
  type StateEvent,
} from '@patchbay/core';
import { expandHome, type TracimConfig } from './config.js';
import { dirname, join } from 'node:path';
import { Destination } from './transport/destination.js';
import { EventIds } from './protocol/eventIds.js';
import { availabilityTlm, descriptionTlm, momentaryTlm, stateTlm, TlmTypes } from './protocol/tlm.js';
import { claimSocketPath, listenUnix, removeSocketFile, SOCKET_IN_USE } from './transport/socketFile.js';
import { TracimStream } from './transport/tracimStream.js';
import {
  decodeEnvelope,
  encodeEnvelope,
  EventTypes,
  MAX_INBOUND_BYTES,
  MAX_WIRE_BYTES,
  pidString,
  readToEof,
  shrinkTlmEnvelope,
  type ClientData,
  type DaemonEvent,
} from './protocol/wire.js';

interface Registered extends ClientData {
  /** Cleared at each keep-alive tick, set by a pong (protocols/tracim.md §6.3). */
  alive: boolean;
}

/** A registered client as the master sees it: for health and tests. */
export interface ClientStatus extends ClientData {
  /** Messages waiting for it, the one in flight included. */
  queued: number;
  /** It took a connection and did not close it within `sendTimeoutMs` (its reader is stuck). */
  stalled: boolean;
}

/** The TLM `event_type` of a device state change (§10: dotted, `device.modified.<kind>`). */
export const STATE_EVENT_TYPE = TlmTypes.state;

/**
 * Master mode: a drop-in TracimDaemon (protocols/tracim.md). Owns the master socket, the
 * ordered client list and the keep-alive sweep; device state goes to every registered client
 * as a synthesized TLM, each client through its own {@link Destination} queue.
 */
/** A connection that has sent nothing for this long may be closed to admit a newcomer at maxConnections. */
const IDLE_EVICTABLE_MS = 1000;

export class TracimMaster implements Adapter {
  private server: Server | undefined;
  private readonly clients = new Map<string, Registered>();
  private readonly destinations = new Map<string, Destination>();
  /** Inbound connections in accept order: when each last sent a byte, and how much it holds. */
  private readonly inbound = new Map<Socket, { lastByteAt: number; bytes: number }>();
  /** Bytes of unfinished inbound messages, over every connection (bounded by maxBufferedBytes). */
  private buffered = 0;
  /** Connections closed at maxConnections since the listener was last below it (one log line each episode). */
  private capped = 0;
  private ticker: NodeJS.Timeout | undefined;
  private stream: TracimStream | undefined;
  private path = '';
  private userId: string;
  /** Below 2^31 and increasing across restarts (§10, K5): see {@link EventIds}. */
  private eventIds: EventIds | undefined;
  private counters: { bad: Counter; dropped: Counter; removed: Counter; oversize: Counter; tlms: Counter; stalled: Counter; rejected: Counter; evicted: Counter } | undefined;

  constructor(
    private readonly config: TracimConfig,
    private readonly ctx: HostContext,
  ) {
    this.userId = config.userId;
  }

  /** The master socket path in use (after `~` expansion). */
  get socketPath(): string {
    return this.path || expandHome(this.config.socketPath);
  }

  /** Registered clients in registration order (what `daemon_get_clients` answers). */
  listClients(): ClientData[] {
    return [...this.clients.values()].map(({ path, pid }) => ({ path, pid }));
  }

  /** Registered clients with their queue and whether they are stalled. */
  clientStatus(): ClientStatus[] {
    return [...this.clients.values()].map(({ path, pid }) => {
      const destination = this.destinations.get(path);
      return { path, pid, queued: destination?.size ?? 0, stalled: destination?.stalled ?? false };
    });
  }

  async start(): Promise<void> {
    const { ctx, config } = this;
    this.counters = {
      bad: ctx.counter('patchbay_tracim_bad_messages_total', 'Inbound Tracim daemon messages refused (invalid JSON, empty, too big, malformed)'),
      dropped: ctx.counter('patchbay_tracim_dropped_total', 'Messages to Tracim clients given up (queue bound, refused destination)'),
      removed: ctx.counter('patchbay_tracim_clients_removed_total', 'Tracim clients removed by the keep-alive sweep'),
      oversize: ctx.counter('patchbay_tracim_oversize_total', 'Outgoing messages over 4096 bytes (shrunk, skipped or sent verbatim)'),
      tlms: ctx.counter('patchbay_tracim_tlm_received_total', 'Tracim live messages received from the Tracim server'),
      stalled: ctx.counter('patchbay_tracim_clients_stalled_total', 'Times a Tracim client took a message and did not close the connection within sendTimeoutMs'),
      rejected: ctx.counter('patchbay_tracim_rejected_connections_total', 'Master socket connections closed unread at maxConnections'),
      evicted: ctx.counter('patchbay_tracim_evicted_connections_total', 'Idle master socket connections closed to admit a new one at maxConnections'),
    };
    for (const note of config.deprecated) ctx.logger.warn(note);
    this.path = expandHome(config.socketPath);
    this.userId = config.userId;
    this.eventIds = new EventIds(config.eventIdFile === undefined ? join(dirname(this.path), 'patchbay-tracim-event-id') : expandHome(config.eventIdFile), ctx.logger);
    let replaced: boolean;
    try {
      replaced = await claimSocketPath(this.path, 'master socket');
    } catch (error) {
      if (error instanceof PatchbayError && error.context.reason === SOCKET_IN_USE) {
        // Restarting would probe the live master again and again, and fail each time the same
        // way: this host stops here, with the reason in /healthz (M27, §10).
        ctx.status('dead', `${error.message} This host is not restarted.`);
        return;
      }
      throw error;
    }
    if (replaced) ctx.logger.warn({ path: this.path }, `replaced the stale master socket file ${this.path} (nobody was listening on it)`);
    const server = await listenUnix(this.path, {
      onConnection: (socket) => this.accept(socket),
      onError: (error) => ctx.logger.error({ err: error }, `master socket ${this.path} failed: ${describeError(error)}`),
      mode: config.socketMode,
    });
    this.server = server;
    this.ticker = setInterval(() => this.tick(), config.pingInterval);
    ctx.logger.info({ path: this.path, pingInterval: config.pingInterval }, `TracimDaemon master listening on ${this.path}`);
    this.reportConnection();
    if (config.tracim) {
      this.stream = new TracimStream(config.tracim, {
        logger: ctx.logger,
        signal: ctx.signal,
        onUserId: (id) => {
          this.userId = id;
        },
        onMessage: (text) => {
          this.counters?.tlms.inc();
          this.broadcastTlm(text);
        },
        onStatus: (up, reason) => ctx.status(up ? 'alive' : 'unknown', reason),
      });
      this.stream.start();
    }
  }

  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    this.stream?.stop();
    this.stream = undefined;
    for (const socket of this.inbound.keys()) socket.destroy();
    this.inbound.clear();
    this.buffered = 0;
    let abandoned = 0;
    for (const destination of this.destinations.values()) abandoned += destination.close();
    this.destinations.clear();
    this.clients.clear();
    if (abandoned > 0) this.ctx.logger.info(`stopping: ${abandoned} messages to Tracim clients abandoned`);
    const server = this.server;
    this.server = undefined;
    if (server) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // §10 / M27: the socket file goes away on a clean shutdown.
      await removeSocketFile(this.path);
    }
  }

  deliver(event: OutboundEvent): void {
    switch (event.kind) {
      case 'state':
        return this.broadcastState(event);
      case 'reply':
        return this.deliverReply(event);
      case 'description':
        return this.broadcastDescription(event.device, event.description, event.time);
      case 'momentary':
        return this.broadcastMomentary(event);
      case 'availability':
        return this.broadcastAvailability(event);
      case 'status':
        // Endpoint status has no TracimDaemon form; a device's own shows as its availability TLM.
        return;
    }
  }

  private channelOf(device: string, channel: string): ChannelDescription | undefined {
    return this.ctx.description(device)?.channels[channel];
  }

  private nextId(): number {
    return (this.eventIds as EventIds).take();
  }

  private broadcastState(event: StateEvent): void {
    if (this.clients.size === 0) return;
    const text = stateTlm(this.nextId(), { device: event.device, channel: event.channel, value: event.value, time: event.time, described: this.channelOf(event.device, event.channel) });
    this.broadcastTlm(text, stateKey(event.device, event.channel));
  }

  private broadcastDescription(device: string, description: DeviceDescription, time: number): void {
    if (this.clients.size === 0) return;
    // Latest wins for a client that is behind: only the current description matters.
    this.broadcastTlm(descriptionTlm(this.nextId(), { device, description, time }), `${device}\u0000@description`);
  }

  private broadcastMomentary(event: MomentaryEvent): void {
    if (this.clients.size === 0) return;
    // No key: a press is never coalesced, not even for a client that is behind.
    this.broadcastTlm(momentaryTlm(this.nextId(), { device: event.device, channel: event.channel, value: event.value, time: event.time, described: this.channelOf(event.device, event.channel) }));
  }

  private broadcastAvailability(event: AvailabilityEvent): void {
    if (this.clients.size === 0) return;
    this.broadcastTlm(
      availabilityTlm(this.nextId(), { device: event.device, availability: event.availability, reason: event.reason, lastSeen: event.lastSeen, time: event.time }),
      `${event.device}\u0000@availability`,
    );
  }

  private broadcastTlm(text: string, key?: string): void {
    const bytes = this.fit(encodeEnvelope(this.path, EventTypes.tracimEvent, text), EventTypes.tracimEvent, text);
    if (bytes === undefined) return;
    for (const client of this.clients.values()) this.destination(client.path).push({ bytes, type: EventTypes.tracimEvent, key });
  }

  private deliverReply(reply: ReplyEvent): void {
    const meta = reply.meta ?? {};
    const client = meta.client;
    if (typeof client !== 'string' || client.length === 0) {
      throw new PatchbayError(ErrorCodes.EVENT_REJECTED, `reply ${reply.id} names no Tracim client socket (meta.client); it cannot be routed`, { context: { replyId: reply.id } });
    }
    const id = (meta.id as JsonValue | undefined) ?? reply.ref ?? null;
    // Every failure carries a code (a driver's own refusal has none from the core: PB207).
    const data = reply.ok ? { id, ok: true, value: reply.value ?? null } : { id, ok: false, error: reply.error ?? 'failed', code: reply.code ?? ErrorCodes.COMMAND_FAILED };
    let bytes = encodeEnvelope(this.path, EventTypes.patchbayReply, data);
    if (bytes.length > MAX_WIRE_BYTES && this.config.sizePolicy !== 'verbatim') {
      this.counters?.oversize.inc();
      this.ctx.logger.warn({ client, id }, `patchbay_reply ${JSON.stringify(id)} is ${bytes.length} bytes, over 4096: sent as a failed reply instead`);
      bytes = encodeEnvelope(this.path, EventTypes.patchbayReply, { id, ok: false, error: `reply value too large (${bytes.length} bytes over the 4096-byte message limit)`, code: ErrorCodes.EVENT_REJECTED });
    }
    this.destination(client).push({ bytes, type: EventTypes.patchbayReply });
  }

  /** The size policy of §10 for one outgoing message; undefined = skip it. */
  private fit(bytes: Buffer, type: string, tlmText?: string): Buffer | undefined {
    if (bytes.length <= MAX_WIRE_BYTES) return bytes;
    this.counters?.oversize.inc();
    const policy = this.config.sizePolicy;
    if (policy === 'verbatim') {
      this.ctx.logger.warn(`${type} of ${bytes.length} bytes sent whole (sizePolicy verbatim): SDK clients read at most 4096 bytes and may lose it or crash`);
      return bytes;
    }
    if (policy === 'shrink' && tlmText !== undefined) {
      const shrunk = shrinkTlmEnvelope(this.path, tlmText);
      if (shrunk) {
        this.ctx.logger.warn({ blanked: shrunk.blanked }, `${type} shrunk from ${bytes.length} to ${shrunk.bytes.length} bytes to fit 4096: blanked ${shrunk.blanked.join(', ')}`);
        return shrunk.bytes;
      }
    }
    this.ctx.logger.warn(`${type} of ${bytes.length} bytes does not fit the 4096-byte limit (sizePolicy ${policy}): skipped`);
    return undefined;
  }

  private send(path: string, type: string, data?: unknown, urgent = false): void {
    const bytes = this.fit(encodeEnvelope(this.path, type, data), type);
    if (bytes !== undefined) this.destination(path).push({ bytes, type }, urgent);
  }

  private destination(path: string): Destination {
    let destination = this.destinations.get(path);
    if (destination === undefined) {
      destination = new Destination(
        path,
        { sendTimeoutMs: this.config.sendTimeoutMs, maxQueue: this.config.maxQueuedPerClient, coalesceAfter: this.config.coalesceAfter },
        {
          keepOnFailure: (p) => this.clients.has(p),
          onReachability: (p, reachable, reason) => {
            if (reachable) this.ctx.logger.info({ client: p }, `Tracim client ${p} is reachable again`);
            else this.ctx.logger.warn({ client: p, reason }, `Tracim client ${p} is unreachable (${reason}): keeping its messages (latest state per channel) until it answers or the keep-alive sweep removes it`);
          },
          onDropped: (p, count, reason) => {
            this.counters?.dropped.inc(count);
            this.ctx.logger.warn({ client: p }, `message to ${p} dropped: ${reason}`);
          },
          onStalled: (p, stalled) => {
            if (!this.clients.has(p)) return;
            if (stalled) {
              this.counters?.stalled.inc();
              this.ctx.logger.warn({ client: p }, `Tracim client ${p} is stalled: it took a message and did not close the connection within ${this.config.sendTimeoutMs} ms; each message to it now waits that long`);
            } else this.ctx.logger.info({ client: p }, `Tracim client ${p} closes its connections again (no longer stalled)`);
          },
          onIdle: (p) => {
            // Keep a queue only for registered clients; one-off replies leave nothing behind.
            if (!this.clients.has(p)) this.destinations.delete(p);
          },
        },
      );
      this.destinations.set(path, destination);
    }
    return destination;
  }

  private forget(path: string): number {
    const destination = this.destinations.get(path);
    this.destinations.delete(path);
    return destination ? destination.close() : 0;
  }

  private accept(socket: Socket): void {
    if (!this.admit(socket)) return;
    const held = { lastByteAt: Date.now(), bytes: 0 };
    this.inbound.set(socket, held);
    socket.once('close', () => this.release(socket));
    // Before readToEof's listener: a chunk over the listener's budget closes the connection first.
    socket.on('data', (chunk: Buffer) => {
      held.lastByteAt = Date.now();
      held.bytes += chunk.length;
      this.buffered += chunk.length;
      if (this.buffered > this.config.maxBufferedBytes) {
        this.bad(`${this.buffered} bytes of unfinished messages on the master socket, over maxBufferedBytes ${this.config.maxBufferedBytes}: closed the connection that crossed it`);
        socket.destroy();
      }
    });
    void readToEof(socket, { timeoutMs: this.config.readTimeoutMs, maxBytes: MAX_INBOUND_BYTES }).then((read) => {
      // Connections cut by stop() are not bad input.
      if (this.server === undefined) return;
      if (!read.ok) return this.bad(read.reason);
      const decoded = decodeEnvelope(read.bytes);
      if (!decoded.ok) return this.bad(decoded.reason, read.bytes);
      try {
        this.handle(decoded.event);
      } catch (error) {
        this.bad(`${decoded.event.type} from ${decoded.event.path} failed: ${describeError(error)}`);
      }
    }).catch((error: unknown) => this.ctx.logger.error(`inbound message on the master socket could not be handled: ${describeError(error)}`));
  }

  /**
   * At maxConnections the connection idle longest (no byte for a second or more) is closed for
   * the newcomer, as the Jeedom and Comodojo sockets do; with none, the newcomer is closed unread.
   * A flood of silent connections cannot lock real clients out, and trickles meet readTimeoutMs.
   */
  private admit(socket: Socket): boolean {
    const { maxConnections } = this.config;
    if (this.inbound.size < maxConnections) {
      if (this.capped > 0 && this.inbound.size < maxConnections - 1) {
        this.ctx.logger.warn(`master socket below maxConnections again (${this.capped} connections closed at the cap)`);
        this.capped = 0;
      }
      return true;
    }
    const now = Date.now();
    let idlest: [Socket, number] | undefined;
    for (const [open, { lastByteAt }] of this.inbound) if (now - lastByteAt >= IDLE_EVICTABLE_MS && (idlest === undefined || lastByteAt < idlest[1])) idlest = [open, lastByteAt];
    if (this.capped++ === 0) this.ctx.logger.warn({ limit: maxConnections }, `master socket: ${maxConnections} connections open (maxConnections); closing idle ones, else newcomers`);
    if (idlest) {
      this.counters?.evicted.inc();
      this.release(idlest[0]);
      idlest[0].destroy();
      return true;
    }
    this.counters?.rejected.inc();
    socket.destroy();
    return false;
  }

  /** Forget a connection and what it held, once (on eviction, and again on its close). */
  private release(socket: Socket): void {
    const held = this.inbound.get(socket);
    if (!held) return;
    this.inbound.delete(socket);
    this.buffered -= held.bytes;
  }

  private bad(reason: string, bytes?: Buffer): void {
    // §10 / M7: log, count, drop, never reply, keep serving.
    this.counters?.bad.inc();
    const sample = bytes === undefined ? undefined : bytes.subarray(0, 120).toString('utf8');
    this.ctx.logger.warn({ sample }, `bad inbound message on the master socket: ${reason}; dropped`);
  }

  /** One inbound DaemonEvent, reacting as the reference master does (§4). */
  private handle(event: DaemonEvent): void {
    switch (event.type) {
      case EventTypes.clientAdd:
        return this.register(event);
      case EventTypes.clientDelete:
        return this.unregister(event);
      case EventTypes.getClients:
        return this.send(event.path, EventTypes.clients, this.listClients());
      case EventTypes.getAccountInfo:
        return this.send(event.path, EventTypes.accountInfo, { user_id: this.userId });
      case EventTypes.ping:
        return this.send(event.path, EventTypes.pong, undefined, true);
      case EventTypes.pong: {
        const client = this.clients.get(event.path);
        if (client) client.alive = true;
        return this.send(event.path, EventTypes.ack);
      }
      case EventTypes.ack:
        return;
      case EventTypes.doRequest:
        // §5.5: the reference never answers; no client depends on it.
        this.ctx.logger.info(`daemon_do_request from ${event.path} is not supported; no reply (as the reference)`);
        return;
      case EventTypes.patchbayCommand:
        return this.command(event);
      default:
        // §4 default branch: any other type is acked.
        return this.send(event.path, EventTypes.ack);
    }
  }

  private register(event: DaemonEvent): void {
    const data = event.data;
    let path = event.path;
    let pid = '0';
    if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
      const record = data as Record<string, unknown>;
      if (typeof record.path === 'string' && record.path.length > 0) path = record.path;
      pid = pidString(record.pid);
    } else {
      // §11.2: this crashes the reference; we register the envelope path instead.
      this.counters?.bad.inc();
      this.ctx.logger.warn(`daemon_client_add from ${event.path} without data: registering its envelope path with pid "0"`);
    }
    const existing = this.clients.get(path);
    this.send(event.path, EventTypes.accountInfo, { user_id: this.userId });
    if (existing) {
      existing.pid = pid;
      existing.alive = true;
    } else {
      this.clients.set(path, { path, pid, alive: true });
      this.ctx.logger.info({ client: path, pid }, `Tracim client registered: ${path} (pid ${pid}); ${this.clients.size} registered`);
      this.reportConnection();
      // §6.1.5: only a new path is announced, to everyone including the newcomer.
      for (const client of this.clients.values()) this.send(client.path, EventTypes.clientAdded, { path, pid });
    }
    // A registering client first gets what each device is, then its current state (ARCHITECTURE.md).
    const now = Date.now();
    for (const device of this.ctx.snapshot().devices) {
      const description = device.description ?? this.ctx.description(device.device);
      if (description) this.pushTlm(path, descriptionTlm(this.nextId(), { device: device.device, description, time: now }), `${device.device}\u0000@description`);
      if (device.availability !== 'online') {
        this.pushTlm(path, availabilityTlm(this.nextId(), { device: device.device, availability: device.availability, reason: device.availabilityReason, lastSeen: device.lastSeen, time: now }), `${device.device}\u0000@availability`);
      }
      for (const c of device.channels) {
        this.pushTlm(path, stateTlm(this.nextId(), { device: device.device, channel: c.channel, value: c.value, time: c.time, described: description?.channels[c.channel] }), stateKey(device.device, c.channel));
      }
    }
  }

  private pushTlm(path: string, text: string, key: string): void {
    const bytes = this.fit(encodeEnvelope(this.path, EventTypes.tracimEvent, text), EventTypes.tracimEvent, text);
    if (bytes) this.destination(path).push({ bytes, type: EventTypes.tracimEvent, key });
  }

  private unregister(event: DaemonEvent): void {
    const known = this.clients.delete(event.path);
    const abandoned = this.forget(event.path);
    if (known) this.reportConnection();
    this.ctx.logger.info(
      { client: event.path, abandoned },
      known ? `Tracim client unregistered: ${event.path}; ${this.clients.size} registered` : `daemon_client_delete for ${event.path}, which is not registered (harmless; Python clients send it twice, §6.2)`,
    );
    // §6.2: echo the request's data to the remaining clients, even for an unknown path; no ack.
    for (const client of this.clients.values()) this.send(client.path, EventTypes.clientDeleted, event.data ?? undefined);
  }

  /** Keep-alive tick, exactly as §6.3: drop the silent, mark the rest, ping everyone. */
  private tick(): void {
    for (const client of [...this.clients.values()]) {
      if (client.alive) continue;
      this.clients.delete(client.path);
      const abandoned = this.forget(client.path);
      this.counters?.removed.inc();
      this.ctx.logger.warn({ client: client.path, abandoned }, `Tracim client ${client.path} removed: no pong within one ping period; ${abandoned} undelivered messages dropped`);
      this.reportConnection();
    }
    for (const client of this.clients.values()) client.alive = false;
    for (const client of this.clients.values()) this.send(client.path, EventTypes.ping, undefined, true);
  }

  /** What this host is connected to is its registered clients (issue 14.2). */
  private reportConnection(): void {
    const peers = this.clients.size;
    this.ctx.connection({ connected: peers > 0, peers, detail: `${peers} registered Tracim client${peers === 1 ? '' : 's'}` });
  }

  private command(event: DaemonEvent): void {
    this.send(event.path, EventTypes.ack);
    const data = event.data;
    const record = typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined;
    const id = record?.id as JsonValue | undefined;
    if (!record || typeof record.device !== 'string' || typeof record.channel !== 'string') {
      this.counters?.bad.inc();
      this.ctx.logger.warn(`patchbay_command from ${event.path} without data {id, device, channel, value}; answered with a failed reply`);
      this.send(event.path, EventTypes.patchbayReply, { id: id ?? null, ok: false, error: 'patchbay_command needs data {id, device, channel, value}', code: ErrorCodes.COMMAND_INVALID });
      return;
    }
    // The reply goes through the journaled outbox and comes back to deliverReply (meta.client).
    // submit is documented never to reject; should it, that is one error line, not an unhandled rejection.
    this.ctx
      .submit(
        { device: record.device, channel: record.channel, value: (record.value as JsonValue | undefined) ?? null, ref: id === undefined || id === null ? undefined : String(id), meta: { client: event.path, id: id ?? null } },
        { deliverReply: true },
      )
      .catch((error: unknown) => this.ctx.logger.error({ client: event.path, id }, `patchbay_command ${JSON.stringify(id ?? null)} from ${event.path} was not taken by the gateway: ${describeError(error)}`));
  }
}

/** The coalescing key of a device channel's state in a client's queue. */
function stateKey(device: string, channel: string): string {
  return device + '\u0000' + channel;
}
