import type { Server, Socket } from 'node:net';
import { describeError, ErrorCodes, PatchbayError, quoteForLog, type Adapter, type Counter, type HostContext, type OutboundEvent } from '@patchbay/core';
import { expandHome, type TracimConfig } from '../config.js';
import { Destination } from '../transport/destination.js';
import { DropLog } from '../transport/dropLog.js';
import { claimSocketPath, listenUnix, removeSocketFile } from '../transport/socketFile.js';
import { sendOnce } from '../transport/sendOnce.js';
import { decodeEnvelope, encodeEnvelope, EventTypes, MAX_WIRE_BYTES, type DaemonEvent } from '../protocol/wire.js';
import { InboundListener } from '../transport/inbound.js';

/** Inbound cap in client mode: TLMs forwarded verbatim by a master may exceed 4096 bytes (C4). */
const CLIENT_INBOUND_BYTES = 1024 * 1024;

/**
 * Client mode (protocols/tracim.md §10, C1-C9): registers with an existing master from its own
 * listening socket, answers pings, re-registers when pings stop (watchdog), and unregisters
 * once on stop. TLMs received are logged and counted.
 */
export class TracimClient implements Adapter {
  private server: Server | undefined;
  private toMaster: Destination | undefined;
  /** The lines for what the master's queue drops: one per episode and interval. */
  private masterDrops: DropLog | undefined;
  private readonly replies = new Map<string, Destination>();
  private inbound: InboundListener | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private path = '';
  private masterPath = '';
  private counters: { tlms: Counter; bad: Counter } | undefined;
  /** The master's `user_id` from `daemon_account_info` (C3). */
  userId: string | undefined;
  /** Registrations sent (the first, then one per watchdog expiry). */
  registrations = 0;
  private refusedOnce = false;

  constructor(
    private readonly config: TracimConfig,
    private readonly ctx: HostContext,
  ) {}

  /** This client's socket path (after `~` expansion). */
  get socketPath(): string {
    return this.path || expandHome(this.config.clientSocketPath);
  }

  async start(): Promise<void> {
    const { ctx, config } = this;
    this.counters = {
      tlms: ctx.counter('patchbay_tracim_tlm_received_total', 'Tracim live messages received from the master'),
      bad: ctx.counter('patchbay_tracim_bad_messages_total', 'Inbound Tracim daemon messages refused'),
    };
    for (const note of config.deprecated) ctx.logger.warn(note);
    this.path = expandHome(config.clientSocketPath);
    this.masterPath = expandHome(config.masterSocketPath);
    this.userId = undefined;
    // C1 / §10: replace a stale file before binding (refuse a live listener).
    await claimSocketPath(this.path, 'client socket');
    // The same admission control as the master socket (issue 13.7): anyone who can reach the
    // socket can connect, and a TLM may be up to 1 MiB here.
    const inbound = new InboundListener({
      what: 'client socket',
      maxConnections: config.maxConnections,
      maxBufferedBytes: config.maxBufferedBytes,
      gatewayBudget: ctx.inputBudget,
      readTimeoutMs: config.readTimeoutMs,
      maxMessageBytes: CLIENT_INBOUND_BYTES,
      logger: ctx.logger,
      counters: {
        rejected: ctx.counter('patchbay_tracim_rejected_connections_total', 'Client socket connections closed unread at maxConnections'),
        evicted: ctx.counter('patchbay_tracim_evicted_connections_total', 'Idle client socket connections closed to admit a new one at maxConnections'),
      },
      onMessage: (bytes) => this.message(bytes),
      onBad: (reason) => this.bad(reason),
    });
    this.inbound = inbound;
    const server = await listenUnix(this.path, { onConnection: (socket: Socket) => inbound.accept(socket), onError: (error) => ctx.logger.error({ err: error }, `client socket ${this.path} failed: ${describeError(error)}`) });
    this.server = server;
    this.masterDrops = new DropLog((line) => ctx.logger.warn(`message to the master dropped: ${line}`));
    this.toMaster = new Destination(
      this.masterPath,
      { sendTimeoutMs: config.sendTimeoutMs, maxQueue: 64 },
      {
        keepOnFailure: () => true,
        onReachability: (_p, reachable, reason) => {
          if (!reachable) this.reportMaster(false, `unreachable (${reason})`);
          if (reachable) ctx.status('alive');
          else ctx.status('unknown', `master ${this.masterPath} unreachable (${reason}); retrying`);
        },
        onDropped: (_p, count, reason) => this.masterDrops?.dropped(count, reason),
        onIdle: () => undefined,
      },
    );
    this.reportMaster(false, 'not registered yet');
    this.register('start');
  }

  /** Its one peer is the master: connected once registered, until it stops answering (issue 14.2). */
  private reportMaster(connected: boolean, detail: string): void {
    this.ctx.connection({ connected, peers: connected ? 1 : 0, detail: `master ${this.masterPath}: ${detail}` });
  }

  async stop(): Promise<void> {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
    this.toMaster?.close();
    this.toMaster = undefined;
    this.masterDrops?.close();
    this.masterDrops = undefined;
    for (const d of this.replies.values()) d.close();
    this.replies.clear();
    this.inbound?.close();
    this.inbound = undefined;
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    // C6: one daemon_client_delete, then close and remove our socket.
    await sendOnce(this.masterPath, encodeEnvelope(this.path, EventTypes.clientDelete, { path: this.path, pid: String(process.pid) }), 1000).catch((error) =>
      this.ctx.logger.warn(`could not unregister from the master ${this.masterPath}: ${describeError(error)}`),
    );
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await removeSocketFile(this.path);
  }

  /**
   * A client only listens (TLMs come from the master): the protocol has no way to hand a master
   * device events to broadcast. They are refused, so the core counts them failed, not delivered.
   */
  deliver(event: OutboundEvent): void {
    if (event.kind === 'status') return;
    if (!this.refusedOnce) {
      this.refusedOnce = true;
      this.ctx.logger.warn(`Tracim client mode cannot forward device events to the master (the protocol has no message for it): route no devices to this host; each one routed is refused and counted failed`);
    }
    throw new PatchbayError(ErrorCodes.EVENT_REJECTED, `Tracim client mode forwards no ${event.kind} events (route no devices to this host)`, { context: { kind: event.kind } });
  }

  private register(why: string): void {
    this.registrations++;
    // §10: never without data (it crashes the reference master); pid as a string (K7).
    this.sendToMaster(EventTypes.clientAdd, { path: this.path, pid: String(process.pid) });
    this.ctx.logger.info(`registering with the Tracim master ${this.masterPath} from ${this.path} (${why})`);
    this.armWatchdog();
  }

  private armWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    // C8: no ping for longer than the watchdog: the master restarted or dropped us.
    this.watchdog = setTimeout(() => {
      this.watchdog = undefined;
      if (!this.server) return;
      this.reportMaster(false, `no ping for ${this.config.watchdogMs} ms`);
      this.register(`no ping for ${this.config.watchdogMs} ms`);
    }, this.config.watchdogMs);
  }

  private sendToMaster(type: string, data?: unknown): void {
    this.toMaster?.push({ bytes: this.checked(encodeEnvelope(this.path, type, data)), type });
  }

  private checked(bytes: Buffer): Buffer {
    // C7: the Go master reads once into 4096 bytes; our own messages are far smaller.
    if (bytes.length > MAX_WIRE_BYTES) this.ctx.logger.warn(`outgoing message of ${bytes.length} bytes exceeds 4096`);
    return bytes;
  }

  /** One inbound message, read to EOF (§10: TLMs can be larger than 4096 bytes, C4). */
  private message(bytes: Buffer): void {
    const decoded = decodeEnvelope(bytes);
    if (!decoded.ok) return this.bad(decoded.reason);
    this.handle(decoded.event);
  }

  private bad(reason: string): void {
    this.counters?.bad.inc();
    this.ctx.logger.warn(`bad inbound message on the client socket: ${reason}; dropped`);
  }

  private handle(event: DaemonEvent): void {
    switch (event.type) {
      case EventTypes.ping: {
        this.armWatchdog();
        // C2: pong to the ping's path, ahead of anything else queued there.
        const bytes = encodeEnvelope(this.path, EventTypes.pong);
        if (event.path === this.masterPath && this.toMaster) this.toMaster.push({ bytes, type: EventTypes.pong }, true);
        else this.reply(event.path, bytes);
        return;
      }
      case EventTypes.accountInfo: {
        const data = event.data as { user_id?: unknown } | null | undefined;
        if (typeof data === 'object' && data !== null && (typeof data.user_id === 'string' || typeof data.user_id === 'number')) {
          this.userId = String(data.user_id);
          this.ctx.status('alive');
          this.reportMaster(true, `registered as user ${this.userId}`);
          this.ctx.logger.info(`registered with the Tracim master as user ${this.userId}`);
        } else {
          this.ctx.logger.warn(`daemon_account_info without an object {user_id}: ${quoteForLog(event.data)}`);
        }
        return;
      }
      case EventTypes.tracimEvent:
        return this.tlm(event.data);
      default:
        // C5: acks, client_added/deleted and unknown types need nothing from us.
        if (this.ctx.logger.isLevelEnabled('debug')) this.ctx.logger.debug(`${event.type} from ${event.path}`);
    }
  }

  private tlm(data: unknown): void {
    let tlm: { event_id?: unknown; event_type?: unknown } | undefined;
    try {
      tlm = typeof data === 'string' ? (JSON.parse(data) as typeof tlm) : undefined;
    } catch {
      tlm = undefined;
    }
    if (typeof tlm !== 'object' || tlm === null || typeof tlm.event_type !== 'string') {
      this.counters?.bad.inc();
      this.ctx.logger.warn(`daemon_tracim_event whose data is not a TLM string; dropped`);
      return;
    }
    this.counters?.tlms.inc();
    this.ctx.logger.info({ eventId: tlm.event_id, eventType: tlm.event_type }, `Tracim live message ${String(tlm.event_id)}: ${tlm.event_type}`);
  }

  private reply(path: string, bytes: Buffer): void {
    let d = this.replies.get(path);
    if (!d) {
      d = new Destination(
        path,
        { sendTimeoutMs: this.config.sendTimeoutMs, maxQueue: 64 },
        {
          keepOnFailure: () => false,
          onReachability: () => undefined,
          onDropped: (p, _n, reason) => this.ctx.logger.warn(`message to ${p} dropped: ${reason}`),
          onIdle: (p) => this.replies.delete(p),
        },
      );
      this.replies.set(path, d);
    }
    d.push({ bytes, type: EventTypes.pong });
  }
}
