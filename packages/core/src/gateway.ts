import { type BackoffPolicy } from './backoff.js';
import { assertInstance, type Adapter, type AdapterDefinition, type Driver, type DriverDefinition, type HostContext, type HttpMount, type SubmitOptions } from './definitions.js';
import { askDriver, buildCommand, failedReply, jsonDepthExceeds, MAX_JSON_DEPTH, replyTo } from './commands.js';
import { describeError, ErrorCodes, PatchbayError, type ErrorCode } from './errors.js';
import { newEventId, type CommandEvent, type CommandInput, type EndpointStatus, type JsonValue, type Meta, type OutboundEvent, type ReplyEvent, type StateEvent, type StatusEvent } from './events.js';
import type { GatewayHealth, StateSnapshot } from './health.js';
import type { Journal } from './journal.js';
import { silentLogger, type Logger } from './logger.js';
import { noopMetrics, type MetricsSink } from './metrics.js';
import { defaultOutboxOptions, Outbox, type OutboxOptions } from './outbox.js';
import { deviceInfo, gatewayHealth, hostStatus, type DeviceRuntime, type HostRuntime } from './runtime.js';
import { checkEndpoints, type EndpointSpec, type RouteSpec } from './spec.js';
import { StateStore } from './stateStore.js';
import { defaultRestartPolicy, Supervisor, type RestartPolicy } from './supervisor.js';

/** Everything the gateway runs. Endpoint `options` are validated by each definition's schema. */
export interface GatewayOptions {
  name?: string;
  devices: readonly EndpointSpec<DriverDefinition>[];
  hosts: readonly EndpointSpec<AdapterDefinition>[];
  routes?: readonly RouteSpec[];
  logger?: Logger;
  metrics?: MetricsSink;
  /** Durable outboxes; without one, a restart loses what was queued. */
  journal?: Journal;
  /** The app's HTTP server, for adapters that serve on it. */
  http?: HttpMount;
  /** How long a device has to answer a command (default 5000 ms). */
  commandTimeoutMs?: number;
  outbox?: Partial<Omit<OutboxOptions, 'backoff'>> & { backoff?: BackoffPolicy };
  restart?: Partial<RestartPolicy>;
}

/** A running gateway. */
export interface Gateway {
  readonly name: string;
  /** Recover the journal, start hosts, then devices. */
  start(): Promise<void>;
  /** Stop devices, drain outboxes up to the deadline, stop hosts, close the journal. */
  stop(options?: { drainTimeoutMs?: number }): Promise<void>;
  health(): GatewayHealth;
  snapshot(): StateSnapshot;
  /** Submit a command as if host `host` had sent it (tests, the CLI). */
  submit(host: string, command: CommandInput, options?: SubmitOptions): Promise<ReplyEvent>;
  /** Events routed since start (for metrics). */
  readonly routed: number;
}

/** Every this many events (a power of two, minus one as a mask), idle hosts' cursors catch up. */
const IDLE_ACK_EVERY_MASK = 4096 - 1;

/** Creates the gateway; throws `CONFIG_INVALID` listing every problem in the spec. */
export function createGateway(options: GatewayOptions): Gateway {
  return new GatewayRuntime(options);
}

class GatewayRuntime implements Gateway {
  readonly name: string;
  private readonly logger: Logger;
  private readonly metrics: MetricsSink;
  private readonly journal: Journal | undefined;
  private readonly store = new StateStore();
  private readonly devices = new Map<string, DeviceRuntime>();
  private readonly hosts = new Map<string, HostRuntime>();
  private readonly commandTimeoutMs: number;
  private readonly startedAt = Date.now();
  private seq = 0;
  private stopping = false;
  private started = false;
  private readonly pendingCommands = new Set<Promise<unknown>>();

  constructor(private readonly options: GatewayOptions) {
    this.name = options.name ?? 'patchbay';
    this.logger = options.logger ?? silentLogger;
    this.metrics = options.metrics ?? noopMetrics;
    this.journal = options.journal;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 5000;
    const { issues, parsed } = checkEndpoints(options);
    if (issues.length > 0) {
      throw new PatchbayError(ErrorCodes.CONFIG_INVALID, `invalid gateway spec:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`, {
        context: { issues },
      });
    }
    const restart: RestartPolicy = { ...defaultRestartPolicy, ...options.restart };
    const outboxOptions: OutboxOptions = { ...defaultOutboxOptions, ...options.outbox };
    for (const spec of options.devices) this.addDevice(spec, parsed.get(spec.id), restart);
    for (const spec of options.hosts) this.addHost(spec, parsed.get(spec.id), { restart, outboxOptions });
    this.wireRoutes(options.routes);
  }

  get routed(): number {
    return this.seq;
  }

  private addDevice(spec: EndpointSpec<DriverDefinition>, config: unknown, restart: RestartPolicy): void {
    const { id, definition } = spec;
    const logger = this.logger.child({ device: id });
    const runtime: DeviceRuntime = { id, type: definition.type, driver: undefined, hosts: [], paused: false, emitted: 0, commandsFailed: 0 } as unknown as DeviceRuntime;
    runtime.supervisor = new Supervisor<Driver>({
      label: `device ${id} (${definition.type})`,
      logger,
      policy: restart,
      create: (generation) => {
        const driver = definition.create(config, {
          id,
          gatewayName: this.name,
          logger,
          signal: generation.signal,
          counter: (name, help) => this.metrics.counter(name, help, { endpoint: id }),
          status: generation.status,
          fail: generation.fail,
          // A torn-down generation (a driver that failed or was stopped) no longer speaks for the device.
          emit: (channel, value, meta) => {
            if (!generation.signal.aborted) this.emitState(runtime, channel, value, meta);
          },
        });
        assertInstance(driver, { kind: 'driver', type: definition.type });
        return driver;
      },
      onStarted: (driver) => {
        runtime.driver = driver;
      },
      onStopping: () => {
        runtime.driver = undefined;
      },
      onStatus: (status, reason) => {
        this.store.setStatus(id, status);
        this.publishStatus(id, status, reason, runtime.hosts);
      },
    });
    this.store.addDevice(id);
    this.devices.set(id, runtime);
  }

  private addHost(spec: EndpointSpec<AdapterDefinition>, config: unknown, settings: { restart: RestartPolicy; outboxOptions: OutboxOptions }): void {
    const { id, definition } = spec;
    const logger = this.logger.child({ host: id });
    const runtime = { id, type: definition.type, devices: [], deviceIds: new Set(), reachable: true, unreachableReason: undefined, lastSeen: null, refusingForRoom: false } as unknown as HostRuntime;
    runtime.outbox = new Outbox(settings.outboxOptions, {
      onAck: (seq) => this.journal?.ack(id, seq),
      onReachability: (reachable, error) => {
        runtime.reachable = reachable;
        runtime.unreachableReason = reachable ? undefined : Outbox.reason(error);
        if (reachable) {
          runtime.lastSeen = Date.now();
          logger.info(`host ${id} is ${runtime.waitedForStart ? 'ready' : 'reachable again'}; delivering ${runtime.outbox.queued} queued events`);
          runtime.waitedForStart = false;
        } else if (runtime.supervisor.status === 'starting') {
          // A host still starting (a bus it is joining) is not failing: no warning, no stack.
          runtime.waitedForStart = true;
          logger.info(`host ${id} is not ready yet (${describeError(error)}); queueing until it is`);
        } else {
          logger.warn({ err: error }, `host ${id} is unreachable (${describeError(error)}); queueing and retrying with back-off`);
        }
        this.publishHostStatus(runtime);
      },
      onRejected: (event, error) => {
        logger.error({ err: error, eventId: event.id, kind: event.kind }, `host ${id} rejected event ${event.id}: ${describeError(error)}; dropped`);
      },
    });
    runtime.supervisor = new Supervisor<Adapter>({
      label: `host ${id} (${definition.type})`,
      logger,
      policy: settings.restart,
      create: (generation) => {
        const ctx: HostContext = {
          id,
          gatewayName: this.name,
          logger,
          signal: generation.signal,
          http: this.options.http,
          counter: (name, help) => this.metrics.counter(name, help, { endpoint: id }),
          status: generation.status,
          fail: generation.fail,
          submit: (command, submitOptions) => this.submitFrom(runtime, command, submitOptions),
          snapshot: () => this.store.snapshot(runtime.deviceIds),
          devices: () => runtime.devices.map((d) => deviceInfo(d, this.store)),
          setPaused: (device, paused) => {
            const target = this.devices.get(device);
            if (!target || !runtime.deviceIds.has(device)) return false;
            if (target.paused !== paused) logger.info({ device, paused }, `device ${device} ${paused ? 'paused' : 'resumed'} by host ${id}`);
            target.paused = paused;
            return true;
          },
          health: () => this.health(),
        };
        const adapter = definition.create(config, ctx);
        assertInstance(adapter, { kind: 'adapter', type: definition.type });
        return adapter;
      },
      onStarted: (adapter) => runtime.outbox.attach(adapter),
      onStopping: () => runtime.outbox.detach(),
      onStatus: () => this.publishHostStatus(runtime),
    });
    this.hosts.set(id, runtime);
  }

  private wireRoutes(routes: readonly RouteSpec[] | undefined): void {
    const link = (device: DeviceRuntime, host: HostRuntime) => {
      if (host.deviceIds.has(device.id)) return;
      host.deviceIds.add(device.id);
      host.devices.push(device);
      device.hosts.push(host);
    };
    if (!routes || routes.length === 0) {
      for (const device of this.devices.values()) for (const host of this.hosts.values()) link(device, host);
      return;
    }
    for (const route of routes) {
      for (const d of route.devices) for (const h of route.hosts) link(this.devices.get(d) as DeviceRuntime, this.hosts.get(h) as HostRuntime);
    }
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    if (this.journal) await this.recover(this.journal);
    await Promise.all([...this.hosts.values()].map((h) => h.supervisor.start()));
    await Promise.all([...this.devices.values()].map((d) => d.supervisor.start()));
  }

  private async recover(journal: Journal): Promise<void> {
    const store = this.store;
    const recovery = await journal.open({
      *states(): Iterable<StateEvent> {
        for (const s of store.states()) yield { kind: 'state', id: newEventId(s.time), time: s.time, origin: s.device, device: s.device, channel: s.channel, value: s.value };
      },
      heldBack: (hosts) => this.rebaseHosts(journal, hosts),
    });
    this.seq = recovery.lastSeq;
    for (const state of recovery.states) if (this.devices.has(state.device)) this.store.apply(state);
    let replayed = 0;
    recovery.replay((seq, event, only) => {
      // An event journaled again for one host goes to that host, if the routes still send it there.
      for (const host of this.targetsOf(event)) {
        if (only !== undefined && host.id !== only) continue;
        const cursor = recovery.cursors.get(host.id);
        if (cursor !== undefined && seq > cursor) {
          host.outbox.push(event, seq);
          replayed++;
        }
      }
    });
    // A host with no cursor is new to the journal: it is owed nothing from before, but from
    // now on it must have a cursor, or a crash before its first delivery would forget it.
    for (const host of this.hosts.values()) if (!recovery.cursors.has(host.id)) journal.ack(host.id, recovery.lastSeq);
    // A cursor whose host left the configuration would keep every later segment forever.
    for (const [id, cursor] of recovery.cursors) {
      if (this.hosts.has(id)) continue;
      journal.release(id);
      this.logger.warn(
        { host: id, cursor, lastSeq: recovery.lastSeq },
        `journal: host ${id} is no longer configured; released its cursor (it had not received events ${cursor + 1}..${recovery.lastSeq}, which are not kept for it)`,
      );
    }
    for (const command of recovery.openCommands) {
      const host = this.hosts.get(command.origin);
      if (host) this.route(failedReply(command, ErrorCodes.GATEWAY_RESTARTED, 'the gateway restarted before the device answered; the command may or may not have been carried out'), [host]);
    }
    this.logger.info(
      { lastSeq: recovery.lastSeq, replayed, openCommands: recovery.openCommands.length, states: recovery.states.length },
      `journal recovered: ${replayed} undelivered events requeued, ${recovery.openCommands.length} unanswered commands failed`,
    );
  }

  /** The hosts an event goes to under the current routes (used on replay). */
  private targetsOf(event: OutboundEvent): readonly HostRuntime[] {
    switch (event.kind) {
      case 'state':
        return this.devices.get(event.device)?.hosts ?? [];
      case 'reply': {
        const host = this.hosts.get(event.to);
        return host ? [host] : [];
      }
      case 'status': {
        const device = this.devices.get(event.endpoint);
        return device ? device.hosts : [...this.hosts.values()].filter((h) => h.id !== event.endpoint);
      }
    }
  }

  async stop(options: { drainTimeoutMs?: number } = {}): Promise<void> {
    if (!this.started) return;
    this.stopping = true;
    const deadline = options.drainTimeoutMs ?? 5000;
    await Promise.all([...this.devices.values()].map((d) => d.supervisor.stop()));
    // Give in-flight commands their replies and the hosts what is queued, up to the deadline;
    // whatever is left stays in the journal for the next run.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), deadline);
    });
    const drained = (async () => {
      await Promise.allSettled([...this.pendingCommands]);
      await Promise.all([...this.hosts.values()].map((h) => h.outbox.whenIdle()));
      return 'drained' as const;
    })();
    const outcome = await Promise.race([drained, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      const left = [...this.hosts.values()].filter((h) => h.outbox.queued > 0).map((h) => `${h.id}: ${h.outbox.queued}`);
      this.logger.warn({ left }, `drain deadline of ${deadline} ms passed; left in the journal: ${left.join(', ')}`);
    }
    await Promise.all([...this.hosts.values()].map((h) => h.supervisor.stop()));
    for (const host of this.hosts.values()) host.outbox.close();
    await this.journal?.close();
    this.started = false;
  }

  private emitState(device: DeviceRuntime, channel: string, value: JsonValue, meta: Meta | undefined): void {
    if (typeof channel !== 'string' || channel.length === 0) {
      this.logger.warn({ device: device.id, channel }, `device ${device.id} emitted state without a channel name; ignored`);
      return;
    }
    // Scalars (nearly every reading) pass on a typeof; a structure is walked once, because a
    // device sending one nested thousands deep would overflow every JSON.stringify after here.
    if (typeof value === 'object' && value !== null && jsonDepthExceeds(value)) {
      this.logger.warn({ device: device.id, channel }, `device ${device.id} emitted ${channel} nested deeper than ${MAX_JSON_DEPTH} levels; ignored`);
      return;
    }
    const now = Date.now();
    const event: StateEvent = { kind: 'state', id: newEventId(now), time: now, origin: device.id, device: device.id, channel, value, meta };
    this.store.set(device.id, channel, value, now);
    device.emitted++;
    if (!device.paused) this.route(event, device.hosts);
  }

  /** The one routing step: number the event, journal it, hand it to each target outbox. */
  private route(event: OutboundEvent, hosts: readonly HostRuntime[]): void {
    const seq = ++this.seq;
    if (this.journal !== undefined) {
      this.journal.append(seq, event);
      if ((seq & IDLE_ACK_EVERY_MASK) === 0) this.ackIdleHosts(seq - 1);
    }
    for (let i = 0; i < hosts.length; i++) (hosts[i] as HostRuntime).outbox.push(event, seq);
  }

  /**
   * A host with an empty outbox has everything routed to it; what was not routed to it is not
   * its concern. Its cursor only moves when it is delivered something, so a host routed only
   * a quiet device would otherwise hold every journal segment back.
   */
  private ackIdleHosts(upTo: number): void {
    const journal = this.journal as Journal;
    for (const host of this.hosts.values()) if (host.outbox.queued === 0) journal.ack(host.id, upTo);
  }

  /**
   * Hosts long down or behind pin the journal's old segments with their cursors: journal
   * again, for each alone, what its outbox still holds (a few coalesced slots and its
   * replies), so the cursor moves past everything else. An idle one simply catches up.
   */
  private rebaseHosts(journal: Journal, ids: readonly string[]): void {
    for (const id of ids) {
      const host = this.hosts.get(id);
      if (host === undefined) continue;
      if (host.outbox.queued === 0) journal.ack(id, this.seq);
      else
        host.outbox.rebase((event) => {
          const seq = ++this.seq;
          journal.appendFor(id, seq, event);
          return seq;
        });
    }
  }

  private publishStatus(endpoint: string, status: EndpointStatus, reason: string | undefined, hosts: readonly HostRuntime[]): void {
    const now = Date.now();
    const event: StatusEvent = { kind: 'status', id: newEventId(now), time: now, origin: endpoint, endpoint, status, reason };
    this.route(event, hosts);
  }

  private publishHostStatus(host: HostRuntime): void {
    const { status, reason } = hostStatus(host);
    const others = [...this.hosts.values()].filter((h) => h !== host);
    this.publishStatus(host.id, status, reason, others);
  }

  submit(host: string, command: CommandInput, options?: SubmitOptions): Promise<ReplyEvent> {
    const runtime = this.hosts.get(host);
    if (!runtime) return Promise.reject(new PatchbayError(ErrorCodes.CONFIG_INVALID, `unknown host "${host}"`, { context: { host } }));
    return this.submitFrom(runtime, command, options);
  }

  private submitFrom(host: HostRuntime, input: CommandInput, options: SubmitOptions = {}): Promise<ReplyEvent> {
    host.lastSeen = Date.now();
    const pending = this.runCommand(host, input, options);
    this.pendingCommands.add(pending);
    const settled = (): void => void this.pendingCommands.delete(pending);
    pending.then(settled, settled);
    return pending;
  }

  /** Never rejects: whatever goes wrong becomes the command's one failed reply. */
  private async runCommand(host: HostRuntime, input: CommandInput, options: SubmitOptions): Promise<ReplyEvent> {
    let built: ReturnType<typeof buildCommand>;
    try {
      built = buildCommand(input, host.id);
    } catch (error) {
      const now = Date.now();
      built = { command: { kind: 'command', id: newEventId(now), time: now, origin: host.id, device: '?' }, invalid: `invalid command: ${describeError(error)}` };
    }
    const { command, invalid } = built;
    let reserved = false;
    const finish = (reply: ReplyEvent): ReplyEvent => {
      if (!reply.ok) {
        const device = this.devices.get(command.device);
        if (device) device.commandsFailed++;
      }
      if (reserved) {
        reserved = false;
        host.outbox.releaseReply();
      }
      if (options.deliverReply) {
        // Only a reply with room goes to the outbox: queueing the refusals of a host that
        // is not taking its replies would defeat the bound (the caller still gets each one).
        if (reserved || host.outbox.hasRoomForReply) this.route(reply, [host]);
        else this.noteOutboxFull(host);
      }
      return reply;
    };
    try {
      if (invalid !== undefined) return finish(failedReply(command, ErrorCodes.COMMAND_INVALID, invalid));
      const device = this.devices.get(command.device);
      const refusal = this.refusal(host, device, command);
      if (refusal) return finish(failedReply(command, refusal.code, refusal.message));
      if (options.deliverReply) {
        // Room for the reply is taken now, so concurrent commands cannot all pass the check.
        if (!host.outbox.reserveReply()) {
          return finish(failedReply(command, ErrorCodes.OUTBOX_FULL, `host "${host.id}" has too many undelivered replies; retry when it has caught up`));
        }
        reserved = true;
        if (host.refusingForRoom) {
          host.refusingForRoom = false;
          this.logger.info({ host: host.id }, `host ${host.id} has room for replies again; accepting its commands`);
        }
        if (this.journal) this.journal.command(command);
      }
      const answer = await askDriver((device as DeviceRuntime).driver as Driver, command, options.timeoutMs ?? this.commandTimeoutMs);
      return finish(replyTo(command, answer));
    } catch (error) {
      this.logger.error({ err: error, host: host.id, commandId: command.id }, `command ${command.id} from ${host.id} failed inside the gateway: ${describeError(error)}`);
      return finish(failedReply(command, ErrorCodes.INTERNAL, `the gateway failed to handle the command: ${describeError(error)}`));
    }
  }

  /** A host's replies have filled its outbox: say so once per episode. */
  private noteOutboxFull(host: HostRuntime): void {
    if (host.refusingForRoom) return;
    host.refusingForRoom = true;
    this.logger.warn(
      { host: host.id, queued: host.outbox.queued },
      `host ${host.id} has too many undelivered replies; refusing its commands (${ErrorCodes.OUTBOX_FULL}) until it catches up`,
    );
  }

  private refusal(host: HostRuntime, device: DeviceRuntime | undefined, command: CommandEvent): { code: ErrorCode; message: string } | undefined {
    if (this.stopping) return { code: ErrorCodes.GATEWAY_STOPPING, message: 'the gateway is stopping' };
    if (!device) {
      return { code: ErrorCodes.UNKNOWN_DEVICE, message: `unknown device "${command.device}" (known: ${host.devices.map((d) => d.id).join(', ') || 'none'})` };
    }
    if (!host.deviceIds.has(device.id)) return { code: ErrorCodes.NOT_ROUTED, message: `device "${device.id}" is not routed to host "${host.id}"` };
    if (device.paused) return { code: ErrorCodes.DEVICE_PAUSED, message: `device "${device.id}" is paused` };
    if (!device.driver) {
      const { status, reason } = device.supervisor;
      return { code: ErrorCodes.DEVICE_UNAVAILABLE, message: `device "${device.id}" is not running (${status}${reason ? `: ${reason}` : ''})` };
    }
    return undefined;
  }

  health(): GatewayHealth {
    return gatewayHealth({ name: this.name, startedAt: this.startedAt, devices: this.devices.values(), hosts: this.hosts.values(), store: this.store });
  }

  snapshot(): StateSnapshot {
    return this.store.snapshot();
  }
}
