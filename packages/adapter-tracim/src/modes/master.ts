import type { Server, Socket } from 'node:net';
import { dirname, join } from 'node:path';
import {
  describeError,
  ErrorCodes,
  PatchbayError,
  type Adapter,
  type Counter,
  type HostContext,
  type JsonValue,
  type OutboundEvent,
  type ReplyEvent,
} from '@patchbay/core';
import { expandHome, type TracimConfig } from '../config.js';
import { EventIds } from '../protocol/eventIds.js';
import { fitMessage, type SizePolicy } from '../protocol/sizePolicy.js';
import { TlmTypes } from '../protocol/tlm.js';
import { decodeEnvelope, encodeEnvelope, EventTypes, MAX_INBOUND_BYTES, MAX_WIRE_BYTES, pidString, type ClientData, type DaemonEvent } from '../protocol/wire.js';
import { InboundListener } from '../transport/inbound.js';
import { claimSocketPath, listenUnix, removeSocketFile, SOCKET_IN_USE } from '../transport/socketFile.js';
import { TracimStream } from '../transport/tracimStream.js';
import { MasterClients, type ClientStatus } from './masterClients.js';
import { MasterTlms } from './masterTlms.js';

export type { ClientStatus } from './masterClients.js';

/** The TLM `event_type` of a device state change (§10: dotted, `device.modified.<kind>`). */
export const STATE_EVENT_TYPE = TlmTypes.state;

/**
 * Master mode: a drop-in TracimDaemon (protocols/tracim.md). Owns the master socket, the
 * client list ({@link MasterClients}, a queue per client) and the keep-alive sweep; device
 * events go to every registered client as synthesised TLMs ({@link MasterTlms}).
 */
export class TracimMaster implements Adapter {
  private server: Server | undefined;
  private inbound: InboundListener | undefined;
  private clients: MasterClients | undefined;
  private tlms: MasterTlms | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private stream: TracimStream | undefined;
  private path = '';
  private userId: string;
  private sizePolicy: SizePolicy | undefined;
  /** Below 2^31 and increasing across restarts (§10, K5): see {@link EventIds}. */
  private eventIds: EventIds | undefined;
  private counters: { bad: Counter; removed: Counter; oversize: Counter; tlms: Counter } | undefined;

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
    return this.clients?.list() ?? [];
  }

  /** Registered clients with their queue and whether they are stalled. */
  clientStatus(): ClientStatus[] {
    return this.clients?.status() ?? [];
  }

  async start(): Promise<void> {
    const { ctx, config } = this;
    const counter = (name: string, help: string) => ctx.counter(`patchbay_tracim_${name}`, help);
    const counters = {
      bad: counter('bad_messages_total', 'Inbound Tracim daemon messages refused (invalid JSON, empty, too big, malformed)'),
      removed: counter('clients_removed_total', 'Tracim clients removed by the keep-alive sweep'),
      oversize: counter('oversize_total', 'Outgoing messages over 4096 bytes (shrunk, skipped or sent verbatim)'),
      tlms: counter('tlm_received_total', 'Tracim live messages received from the Tracim server'),
    };
    this.counters = counters;
    for (const note of config.deprecated) ctx.logger.warn(note);
    this.path = expandHome(config.socketPath);
    this.userId = config.userId;
    this.sizePolicy = { policy: config.sizePolicy, masterPath: this.path, logger: ctx.logger, oversize: counters.oversize };
    this.eventIds = new EventIds(config.eventIdFile === undefined ? join(dirname(this.path), 'patchbay-tracim-event-id') : expandHome(config.eventIdFile), ctx.logger);
    this.clients = new MasterClients({
      config,
      logger: ctx.logger,
      takeEventId: () => this.nextId(),
      counters: {
        dropped: counter('dropped_total', 'Messages to Tracim clients given up (queue bound, refused destination)'),
        stalled: counter('clients_stalled_total', 'Times a Tracim client took a message and did not close the connection within sendTimeoutMs'),
      },
    });
    this.tlms = new MasterTlms({
      ctx,
      clients: this.clients,
      nextId: () => this.nextId(),
      fit: (text) => this.fit(encodeEnvelope(this.path, EventTypes.tracimEvent, text), EventTypes.tracimEvent, text),
    });
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
    const inbound = new InboundListener({
      what: 'master socket',
      maxConnections: config.maxConnections,
      maxBufferedBytes: config.maxBufferedBytes,
      gatewayBudget: ctx.inputBudget,
      readTimeoutMs: config.readTimeoutMs,
      maxMessageBytes: MAX_INBOUND_BYTES,
      logger: ctx.logger,
      counters: {
        rejected: counter('rejected_connections_total', 'Master socket connections closed unread at maxConnections'),
        evicted: counter('evicted_connections_total', 'Idle master socket connections closed to admit a new one at maxConnections'),
      },
      onMessage: (bytes) => this.message(bytes),
      onBad: (reason) => this.bad(reason),
    });
    this.inbound = inbound;
    this.server = await listenUnix(this.path, {
      onConnection: (socket: Socket) => inbound.accept(socket),
      onError: (error) => ctx.logger.error({ err: error }, `master socket ${this.path} failed: ${describeError(error)}`),
      mode: config.socketMode,
    });
    this.ticker = setInterval(() => this.tick(), config.pingInterval);
    ctx.logger.info({ path: this.path, pingInterval: config.pingInterval }, `TracimDaemon master listening on ${this.path}`);
    this.reportConnection();
    if (config.tracim) this.startStream(config.tracim);
  }

  private startStream(account: NonNullable<TracimConfig['tracim']>): void {
    const { ctx } = this;
    this.stream = new TracimStream(account, {
      logger: ctx.logger,
      signal: ctx.signal,
      onUserId: (id) => {
        this.userId = id;
      },
      onMessage: (text) => {
        this.counters?.tlms.inc();
        this.tlms?.relay(text);
      },
      onStatus: (up, reason) => ctx.status(up ? 'alive' : 'unknown', reason),
    });
    this.stream.start();
  }

  async stop(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    this.stream?.stop();
    this.stream = undefined;
    this.inbound?.close();
    this.inbound = undefined;
    const abandoned = this.clients?.close() ?? 0;
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
      case 'description':
      case 'momentary':
      case 'availability':
        return this.tlms?.broadcast(event);
      case 'reply':
        return this.deliverReply(event);
      case 'status':
        // Endpoint status has no TracimDaemon form; a device's own shows as its availability TLM.
        return;
    }
  }

  private get registered(): MasterClients {
    return this.clients as MasterClients;
  }

  private nextId(): number {
    return (this.eventIds as EventIds).take();
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
    // Ahead of the state waiting for this client (behind its ack): a command's answer must not
    // wait a pass of a long queue, such as a registration snapshot of every device (issue 20).
    this.registered.push(client, { bytes, type: EventTypes.patchbayReply }, true);
  }

  /** The size policy of §10 for one outgoing message; undefined = skip it. */
  private fit(bytes: Buffer, type: string, tlmText?: string): Buffer | undefined {
    return fitMessage(this.sizePolicy as SizePolicy, { bytes, type, tlmText });
  }

  /** Queues a daemon message for `path`; `urgent` ones (pings, pongs) go before everything not yet in flight. */
  private send(path: string, message: { type: string; data?: unknown; urgent?: boolean }): void {
    const { type, data, urgent = false } = message;
    const bytes = this.fit(encodeEnvelope(this.path, type, data), type);
    if (bytes !== undefined) this.registered.push(path, { bytes, type }, urgent);
  }

  private message(bytes: Buffer): void {
    const decoded = decodeEnvelope(bytes);
    if (!decoded.ok) return this.bad(decoded.reason, bytes);
    try {
      this.handle(decoded.event);
    } catch (error) {
      this.bad(`${decoded.event.type} from ${decoded.event.path} failed: ${describeError(error)}`);
    }
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
        return this.send(event.path, { type: EventTypes.clients, data: this.listClients() });
      case EventTypes.getAccountInfo:
        return this.send(event.path, { type: EventTypes.accountInfo, data: { user_id: this.userId } });
      case EventTypes.ping:
        return this.send(event.path, { type: EventTypes.pong, urgent: true });
      case EventTypes.pong:
        this.registered.markAlive(event.path);
        return this.send(event.path, { type: EventTypes.ack });
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
        return this.send(event.path, { type: EventTypes.ack });
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
    const clients = this.registered;
    this.send(event.path, { type: EventTypes.accountInfo, data: { user_id: this.userId } });
    if (clients.register(path, pid)) {
      this.ctx.logger.info({ client: path, pid }, `Tracim client registered: ${path} (pid ${pid}); ${clients.size} registered`);
      this.reportConnection();
      // §6.1.5: only a new path is announced, to everyone including the newcomer.
      for (const client of clients.paths()) this.send(client, { type: EventTypes.clientAdded, data: { path, pid } });
    }
    this.tlms?.snapshot(path);
  }

  private unregister(event: DaemonEvent): void {
    const clients = this.registered;
    const { known, abandoned } = clients.remove(event.path);
    if (known) this.reportConnection();
    this.ctx.logger.info(
      { client: event.path, abandoned },
      known ? `Tracim client unregistered: ${event.path}; ${clients.size} registered` : `daemon_client_delete for ${event.path}, which is not registered (harmless; Python clients send it twice, §6.2)`,
    );
    // §6.2: echo the request's data to the remaining clients, even for an unknown path; no ack.
    for (const client of clients.paths()) this.send(client, { type: EventTypes.clientDeleted, data: event.data ?? undefined });
  }

  /** Keep-alive tick, exactly as §6.3: drop the silent, mark the rest, ping everyone. */
  private tick(): void {
    const clients = this.registered;
    for (const { path, abandoned } of clients.sweep()) {
      this.counters?.removed.inc();
      this.ctx.logger.warn({ client: path, abandoned }, `Tracim client ${path} removed: no pong within one ping period; ${abandoned} undelivered messages dropped`);
      this.reportConnection();
    }
    for (const client of clients.paths()) this.send(client, { type: EventTypes.ping, urgent: true });
  }

  /** What this host is connected to is its registered clients (issue 14.2). */
  private reportConnection(): void {
    const peers = this.registered.size;
    this.ctx.connection({ connected: peers > 0, peers, detail: `${peers} registered Tracim client${peers === 1 ? '' : 's'}` });
  }

  private command(event: DaemonEvent): void {
    // Urgent, as the reply that follows it: the pair keeps its order ahead of queued TLMs.
    this.send(event.path, { type: EventTypes.ack, urgent: true });
    const data = event.data;
    const record = typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined;
    const id = record?.id as JsonValue | undefined;
    if (!record || typeof record.device !== 'string' || typeof record.channel !== 'string') {
      this.counters?.bad.inc();
      this.ctx.logger.warn(`patchbay_command from ${event.path} without data {id, device, channel, value}; answered with a failed reply`);
      this.send(event.path, { type: EventTypes.patchbayReply, data: { id: id ?? null, ok: false, error: 'patchbay_command needs data {id, device, channel, value}', code: ErrorCodes.COMMAND_INVALID }, urgent: true });
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
