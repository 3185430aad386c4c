import { type BackoffPolicy } from './backoff.js';
import { assertInstance, type Adapter, type AdapterDefinition, type Driver, type DriverDefinition, type HttpMount, type SubmitOptions } from './definitions.js';
import { askDriver, buildCommand, checkCommand, failedReply, jsonDepthExceeds, MAX_JSON_DEPTH, replyTo } from './commands.js';
import { AvailabilityTracker } from './availability.js';
import { createHostContext, type HostContextDeps } from './hostContext.js';
import { hostOutboxHooks } from './hostOutbox.js';
import { DeviceDescriptionSchema, fitsKind } from './description.js';
import { describeError, ErrorCodes, PatchbayError, type ErrorCode } from './errors.js';
import {
  newEventId,
  type CommandEvent,
  type CommandInput,
  type DescriptionEvent,
  type EndpointStatus,
  type JsonValue,
  type MomentaryEvent,
  type OutboundEvent,
  type ReplyEvent,
  type StateEvent,
  type StatusEvent,
} from './events.js';
import type { ClusterHealth, GatewayHealth, StateSnapshot } from './health.js';
import type { Journal } from './journal.js';
import { quoteForLog, silentLogger, type Logger } from './logger.js';
import { latencyBuckets, noopMetrics, type Counter, type Histogram, type MetricsSink } from './metrics.js';
import { defaultOutboxOptions, Outbox, type OutboxOptions } from './outbox.js';
import { gatewayHealth, hostStatus, type DeviceRuntime, type HostRuntime } from './runtime.js';
import { planEndpoints, routesKey, type ReloadResult, type ReloadSpec } from './reload.js';
import { remoteDeviceProblem, type RemoteDeviceSpec } from './remote.js';
import { checkEndpoints, formatPath, type EndpointSpec, type RouteSpec } from './spec.js';
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
  /** How long an undelivered momentary event is kept for a host (default one hour). */
  eventTtlMs?: number;
  /** How long one delivery may go without settling before its host is reported stalled (default 15 s). */
  stallTimeoutMs?: number;
  restart?: Partial<RestartPolicy>;
  /** Called when a host asks the gateway to stop ({@link HostContext.requestStop}); the app stops as on SIGTERM. */
  onStopRequested?: (request: { host: string; reason: string }) => void;
  /**
   * Routes may name devices that are not in `devices`: remote devices of a cluster (issue 19),
   * linked as routed when they appear. A remote device no route names goes to every host.
   */
  remoteRoutes?: boolean;
  /** A cluster's section of the health (issue 19.7), so every host sees it; undefined until the link starts. */
  clusterHealth?: () => ClusterHealth | undefined;
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
  /**
   * Apply a new set of devices, hosts and routes to the running gateway: the whole spec is
   * checked first (an invalid one changes nothing and throws `CONFIG_INVALID` listing every
   * problem); then only what changed restarts. Reloads run one at a time.
   */
  reload(next: ReloadSpec): Promise<ReloadResult>;
  /**
   * Show a device another gateway owns to this gateway's hosts (issue 19). Throws
   * `DEVICE_ID_TAKEN` when the id is already a device (local or remote) or a host here.
   */
  addRemoteDevice(spec: RemoteDeviceSpec): Promise<void>;
  /** Take a remote device away (its owner no longer announces it); false when there was none. */
  removeRemoteDevice(id: string): Promise<boolean>;
}

/** The gateway's timing defaults; the app's config imports them rather than repeating them. */
export const defaultGatewayTimeouts = {
  /** How long a device has to answer a command. */
  commandTimeoutMs: 5000,
  /** How long `stop()` waits for outboxes to drain before leaving the rest to the journal. */
  drainTimeoutMs: 5000,
} as const;

/** Checks a whole spec, throwing `CONFIG_INVALID` with every problem; returns the parsed options by id. */
function checkSpec(spec: ReloadSpec, remoteRoutes: boolean): Map<string, unknown> {
  const { issues, parsed } = checkEndpoints({ ...spec, remoteRoutes });
  spec.devices.forEach((d, index) => {
    const stale = d.staleAfterMs;
    if (stale !== undefined && !(Number.isInteger(stale) && stale >= 1 && stale <= 2_147_483_647)) {
      issues.push({ path: formatPath('devices', [index, 'staleAfterMs']), message: `expected a whole number of milliseconds from 1 to 2147483647, got ${quoteForLog(stale)}` });
    }
  });
  if (issues.length > 0) {
    throw new PatchbayError(ErrorCodes.CONFIG_INVALID, `invalid gateway spec:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`, { context: { issues } });
  }
  return parsed;
}

/** The codes a command is refused with before (or instead of) reaching its device: each host's refusal counters start at zero for each. */
const REFUSAL_CODES: readonly ErrorCode[] = [
  ErrorCodes.UNKNOWN_DEVICE,
  ErrorCodes.NOT_ROUTED,
  ErrorCodes.DEVICE_UNAVAILABLE,
  ErrorCodes.DEVICE_PAUSED,
  ErrorCodes.COMMAND_INVALID,
  ErrorCodes.OUTBOX_FULL,
  ErrorCodes.GATEWAY_STOPPING,
  ErrorCodes.READ_ONLY,
  ErrorCodes.VALUE_INVALID,
  ErrorCodes.JOURNAL_UNAVAILABLE,
];

/** Every this many events (a power of two, minus one as a mask), idle hosts' cursors catch up. */
const IDLE_ACK_EVERY_MASK = 4096 - 1;

const noHistogram: Histogram = { observe: () => undefined };

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
  private readonly counters = new Map<string, Counter>();
  /** Each host's command round trip, made once with the host. */
  private readonly commandSeconds = new Map<string, Histogram>();
  private readonly availability: AvailabilityTracker;
  private readonly restartPolicy: RestartPolicy;
  private readonly outboxOptions: OutboxOptions;
  private routes: readonly RouteSpec[] | undefined;
  /** Reloads run one at a time, in order. */
  private reloading: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: GatewayOptions) {
    this.name = options.name ?? 'patchbay';
    this.logger = options.logger ?? silentLogger;
    this.metrics = options.metrics ?? noopMetrics;
    this.journal = options.journal;
    this.commandTimeoutMs = options.commandTimeoutMs ?? defaultGatewayTimeouts.commandTimeoutMs;
    this.availability = new AvailabilityTracker({
      store: this.store,
      logger: this.logger,
      isStopping: () => this.stopping,
      publish: (device, event) => this.route(event, device.hosts),
    });
    const parsed = checkSpec(options, options.remoteRoutes === true);
    const restart: RestartPolicy = { ...defaultRestartPolicy, ...options.restart };
    const outboxOptions: OutboxOptions = { ...defaultOutboxOptions, ...options.outbox };
    if (options.eventTtlMs !== undefined) outboxOptions.eventTtlMs = options.eventTtlMs;
    if (options.stallTimeoutMs !== undefined) outboxOptions.stallTimeoutMs = options.stallTimeoutMs;
    this.restartPolicy = restart;
    this.outboxOptions = outboxOptions;
    for (const spec of options.devices) this.addDevice(spec, parsed.get(spec.id), restart);
    for (const spec of options.hosts) this.addHost(spec, parsed.get(spec.id), { restart, outboxOptions });
    this.routes = options.routes;
    this.wireRoutes(options.routes);
  }

  reload(next: ReloadSpec): Promise<ReloadResult> {
    const run = this.reloading.then(() => this.applyReload(next));
    this.reloading = run.catch(() => undefined);
    return run;
  }

  /**
   * Checks the whole new spec before touching anything; then restarts only what changed.
   * A changed host keeps its runtime, so its outbox keeps its queue and journal cursor; an
   * unchanged one is never stopped, so its peers stay connected.
   */
  private async applyReload(next: ReloadSpec): Promise<ReloadResult> {
    const parsed = checkSpec(next, this.options.remoteRoutes === true);
    // Remote devices come and go with their owners, not with this gateway's config.
    const devices = planEndpoints(new Map([...this.devices].filter(([, d]) => d.origin === undefined).map(([id, d]) => [id, d.spec])), next.devices);
    const hosts = planEndpoints(new Map([...this.hosts].map(([id, h]) => [id, h.spec])), next.hosts);
    const routesChanged = routesKey(this.routes) !== routesKey(next.routes);
    const result: ReloadResult = {
      restarted: [...devices.changed, ...hosts.changed].map((s) => s.id),
      added: [...devices.added, ...hosts.added].map((s) => s.id),
      removed: [...devices.removed, ...hosts.removed],
      unchanged: [...devices.unchanged, ...hosts.unchanged],
      routesChanged,
    };
    const log = (id: string, what: string): void => this.logger.info({ endpoint: id }, `reload: ${what}`);
    // Devices first, so no host is handed state from a device about to go.
    for (const id of devices.removed) {
      const device = this.devices.get(id) as DeviceRuntime;
      await device.supervisor.stop();
      this.availability.clear(device);
      this.devices.delete(id);
      log(id, `device ${id} removed`);
    }
    for (const id of hosts.removed) {
      const host = this.hosts.get(id) as HostRuntime;
      await host.supervisor.stop();
      host.outbox.close();
      this.hosts.delete(id);
      if (this.journal !== undefined) this.journal.release(id);
      log(id, `host ${id} removed${host.outbox.queued > 0 ? `; ${host.outbox.queued} undelivered events dropped with its journal cursor` : ''}`);
    }
    const restart = async <D extends { type: string }>(runtime: { supervisor: { stop(): Promise<void>; start(): Promise<void> }; spec: EndpointSpec<D>; config: unknown; type: string }, spec: EndpointSpec<D>): Promise<void> => {
      await runtime.supervisor.stop();
      runtime.spec = spec;
      runtime.config = parsed.get(spec.id);
      runtime.type = spec.definition.type;
      if (this.started && !this.stopping) await runtime.supervisor.start();
    };
    for (const spec of hosts.changed) {
      const host = this.hosts.get(spec.id) as HostRuntime;
      await restart(host, spec);
      log(spec.id, `host ${spec.id} restarted with its new options (${host.outbox.queued} queued events kept)`);
    }
    const addedHosts = hosts.added.map((spec) => this.addHost(spec, parsed.get(spec.id), { restart: this.restartPolicy, outboxOptions: this.outboxOptions }));
    // A new host has been owed nothing so far; from now on it needs a cursor.
    if (this.journal !== undefined) for (const host of addedHosts) this.journal.ack(host.id, this.seq);
    const addedDevices = devices.added.map((spec) => this.addDevice(spec, parsed.get(spec.id), this.restartPolicy));
    for (const spec of devices.changed) {
      const device = this.devices.get(spec.id) as DeviceRuntime;
      device.configuredStaleAfterMs = spec.staleAfterMs;
      this.availability.clear(device);
      await restart(device, spec);
      log(spec.id, `device ${spec.id} restarted with its new options`);
    }
    this.routes = next.routes;
    const linked = this.rewireRoutes();
    if (this.started && !this.stopping) {
      await Promise.all(addedHosts.map((h) => h.supervisor.start()));
      await Promise.all(addedDevices.map((d) => d.supervisor.start()));
    }
    for (const host of addedHosts) log(host.id, `host ${host.id} added`);
    for (const device of addedDevices) log(device.id, `device ${device.id} added`);
    // A device newly routed to a host that was already there: that host is owed what is known.
    for (const [host, device] of linked) this.sendCurrent(device, host);
    if (routesChanged) log('routes', `routes changed (${linked.length} new device-to-host links)`);
    this.logger.info(result, `reload done: ${result.restarted.length} restarted, ${result.added.length} added, ${result.removed.length} removed, ${result.unchanged.length} unchanged`);
    return result;
  }

  /** Links every device to its hosts anew; returns the pairs that were not linked before. */
  private rewireRoutes(): [HostRuntime, DeviceRuntime][] {
    const before = new Map([...this.hosts.values()].map((h) => [h, new Set(h.deviceIds)]));
    for (const device of this.devices.values()) device.hosts = [];
    for (const host of this.hosts.values()) {
      host.devices = [];
      host.deviceIds = new Set();
    }
    this.wireRoutes(this.routes);
    const linked: [HostRuntime, DeviceRuntime][] = [];
    for (const [host, ids] of before) for (const device of host.devices) if (!ids.has(device.id)) linked.push([host, device]);
    return linked;
  }

  /** Hands one host what is known of one device: its description, availability and every channel's latest value. */
  private sendCurrent(device: DeviceRuntime, host: HostRuntime): void {
    const now = Date.now();
    if (device.description !== undefined) {
      this.route({ kind: 'description', id: newEventId(now), time: now, origin: device.id, device: device.id, description: device.description }, [host]);
    }
    for (const state of this.store.states()) {
      if (state.device === device.id) this.route({ kind: 'state', id: newEventId(state.time), time: state.time, origin: device.id, device: device.id, channel: state.channel, value: state.value }, [host]);
    }
    this.route({ kind: 'availability', id: newEventId(now), time: now, origin: device.id, device: device.id, availability: device.availability, reason: device.availabilityReason, lastSeen: this.store.lastSeen(device.id) }, [host]);
  }

  get routed(): number {
    return this.seq;
  }

  private addDevice(spec: EndpointSpec<DriverDefinition>, config: unknown, restart: RestartPolicy): DeviceRuntime {
    const { id, definition } = spec;
    const logger = this.logger.child({ device: id });
    const runtime: DeviceRuntime = {
      id,
      type: definition.type,
      spec,
      config,
      driver: undefined,
      hosts: [],
      paused: false,
      emitted: 0,
      commandsFailed: 0,
      description: undefined,
      staleAfterMs: spec.staleAfterMs,
      configuredStaleAfterMs: spec.staleAfterMs,
      availability: 'offline',
      availabilityReason: 'not started',
      reportedOffline: undefined,
      silent: false,
      staleTimer: undefined,
      wrongKindLogged: undefined,
    } as unknown as DeviceRuntime;
    runtime.supervisor = new Supervisor<Driver>({
      label: `device ${id} (${definition.type})`,
      logger,
      policy: restart,
      create: (generation) => {
        // Read at each start: a reload swaps the spec and config, and restarts.
        const { definition } = runtime.spec;
        const driver = definition.create(runtime.config, {
          id,
          gatewayName: this.name,
          logger,
          signal: generation.signal,
          counter: (name, help) => this.metrics.counter(name, help, { device: id, driver: runtime.type }),
          status: generation.status,
          fail: generation.fail,
          // A torn-down generation (a driver that failed or was stopped) no longer speaks for the device.
          // The event is built here, before its checks, so the hot path hands on the one object it
          // routes (a refused value costs an event id, and refusals are rare).
          emit: (channel, value, meta) => {
            if (generation.signal.aborted) return;
            const now = Date.now();
            this.emitState(runtime, { kind: 'state', id: newEventId(now), time: now, origin: id, device: id, channel, value, meta });
          },
          describe: (description) => {
            if (!generation.signal.aborted) this.describeDevice(runtime, description);
          },
          momentary: (channel, value, meta) => {
            if (generation.signal.aborted) return;
            const now = Date.now();
            this.emitMomentary(runtime, { kind: 'momentary', id: newEventId(now), time: now, origin: id, device: id, channel, value, meta });
          },
          availability: (availability, reason) => {
            if (generation.signal.aborted) return;
            runtime.reportedOffline = availability === 'offline' ? (reason ?? 'the device does not answer') : undefined;
            this.availability.update(runtime);
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
        this.publishStatus(id, { status, reason }, runtime.hosts);
        this.availability.update(runtime);
      },
    });
    this.store.addDevice(id);
    this.devices.set(id, runtime);
    // At zero from the start, so a rate over them is defined before the first refusal.
    this.deviceCounter(runtime, 'values_refused');
    this.deviceCounter(runtime, 'descriptions_refused');
    return runtime;
  }

  /** What a host context reaches of this gateway. */
  private hostContextDeps(): HostContextDeps {
    return {
      gatewayName: this.name,
      http: this.options.http,
      metrics: this.metrics,
      store: this.store,
      devices: this.devices,
      submit: (host, command, options) => this.submitFrom(host, command, options),
      health: () => this.health(),
      onStopRequested: this.options.onStopRequested,
    };
  }

  private addHost(spec: EndpointSpec<AdapterDefinition>, config: unknown, settings: { restart: RestartPolicy; outboxOptions: OutboxOptions }): HostRuntime {
    const { id, definition } = spec;
    const logger = this.logger.child({ host: id });
    const runtime = { id, type: definition.type, spec, config, devices: [], deviceIds: new Set(), reachable: true, unreachableReason: undefined, lastSeen: null, refusingForRoom: false, expiredLogged: false, connection: undefined } as unknown as HostRuntime;
    const labels = { host: id, adapter: definition.type };
    for (const code of REFUSAL_CODES) this.refusalCounter(runtime, code);
    this.commandSeconds.set(id, this.metrics.histogram?.({ name: 'patchbay_command_duration_seconds', help: 'Command round trip as the asking host sees it: from its submit to the reply (refusals included)', labels, buckets: latencyBuckets }) ?? noHistogram);
    runtime.outbox = new Outbox(
      settings.outboxOptions,
      hostOutboxHooks(runtime, logger, {
        journal: this.journal,
        eventTtlMs: settings.outboxOptions.eventTtlMs,
        stalls: this.hostCounter(runtime, 'stalls'),
        expired: this.hostCounter(runtime, 'expired'),
        latency: this.metrics.histogram?.({ name: 'patchbay_host_delivery_seconds', help: 'Time from an event being routed to a host to the host taking it (its delivery settled)', labels, buckets: latencyBuckets }),
        statusChanged: () => this.publishHostStatus(runtime),
      }),
    );
    runtime.supervisor = new Supervisor<Adapter>({
      label: `host ${id} (${definition.type})`,
      logger,
      policy: settings.restart,
      create: (generation) => {
        const ctx = createHostContext({ runtime, generation, logger }, this.hostContextDeps());
        // Read at each start: a reload swaps the spec and config, and restarts.
        const { definition } = runtime.spec;
        const adapter = definition.create(runtime.config, ctx);
        assertInstance(adapter, { kind: 'adapter', type: definition.type });
        return adapter;
      },
      // Delivered to once it says alive: a host that holds `starting` (joining a bus, loading a
      // mapping) gets nothing it would have to refuse, so waiting for it is no outage.
      onStarted: (adapter) => {
        runtime.started = adapter;
        // Already alive (it said so during start()), or unreachable: delivered to (and retried) as ever.
        if (runtime.supervisor.status !== 'starting') runtime.outbox.attach(adapter);
      },
      onStopping: () => {
        runtime.started = undefined;
        runtime.outbox.detach();
      },
      onStatus: (status) => {
        if (status === 'alive' && runtime.started) runtime.outbox.attach(runtime.started);
        this.publishHostStatus(runtime);
      },
    });
    this.hosts.set(id, runtime);
    return runtime;
  }

  private wireRoutes(routes: readonly RouteSpec[] | undefined): void {
    const link = (device: DeviceRuntime, host: HostRuntime) => {
      if (host.deviceIds.has(device.id) || device.via === host.id) return;
      host.deviceIds.add(device.id);
      host.devices.push(device);
      device.hosts.push(host);
    };
    if (!routes || routes.length === 0) {
      for (const device of this.devices.values()) for (const host of this.hosts.values()) link(device, host);
      return;
    }
    for (const route of routes) {
      for (const d of route.devices) {
        // A remote device a route names may not be there (yet).
        const device = this.devices.get(d);
        if (device !== undefined) for (const h of route.hosts) link(device, this.hosts.get(h) as HostRuntime);
      }
    }
    // A remote device no route names goes to every host.
    for (const device of this.devices.values()) if (device.origin !== undefined && !routes.some((r) => r.devices.includes(device.id))) for (const host of this.hosts.values()) link(device, host);
  }

  async addRemoteDevice(spec: RemoteDeviceSpec): Promise<void> {
    const problem = remoteDeviceProblem(spec, (id) => this.devices.get(id), new Set(this.hosts.keys()));
    if (problem !== undefined) throw problem;
    const device = this.addDevice({ id: spec.id, definition: spec.definition, options: {} }, {}, this.restartPolicy);
    device.origin = spec.origin;
    device.via = spec.via;
    this.rewireRoutes();
    this.logger.info({ device: spec.id, origin: spec.origin }, `device ${spec.id} of gateway ${spec.origin} added`);
    if (this.started && !this.stopping) await device.supervisor.start();
  }

  async removeRemoteDevice(id: string): Promise<boolean> {
    const device = this.devices.get(id);
    if (device === undefined || device.origin === undefined) return false;
    await device.supervisor.stop();
    this.availability.clear(device);
    this.devices.delete(id);
    this.store.removeDevice(id);
    for (const host of device.hosts) {
      host.deviceIds.delete(id);
      host.devices = host.devices.filter((d) => d !== device);
    }
    this.logger.info({ device: id, origin: device.origin }, `device ${id} of gateway ${device.origin} removed`);
    return true;
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
      waiting: (id) => this.hosts.get(id)?.outbox.queued ?? 0,
    });
    this.seq = recovery.lastSeq;
    for (const state of recovery.states) if (this.devices.has(state.device)) this.store.apply(state);
    let replayed = 0;
    // A corrupt record may have been a host's cursor: a host without one then gets everything
    // still on disk (duplicates at worst) rather than nothing (losses).
    const corrupt = recovery.corrupt.length > 0;
    recovery.replay((seq, event, only) => {
      // An event journaled again for one host goes to that host, if the routes still send it there.
      for (const host of this.targetsOf(event)) {
        if (only !== undefined && host.id !== only) continue;
        const cursor = recovery.cursors.get(host.id) ?? (corrupt ? 0 : undefined);
        if (cursor !== undefined && seq > cursor) {
          host.outbox.push(event, seq);
          replayed++;
        }
      }
    });
    // A host with no cursor is new to the journal: it is owed nothing from before, but from
    // now on it must have a cursor, or a crash before its first delivery would forget it.
    for (const host of this.hosts.values()) if (!recovery.cursors.has(host.id)) journal.ack(host.id, corrupt ? 0 : recovery.lastSeq);
    if (corrupt) {
      this.logger.warn(
        { code: ErrorCodes.JOURNAL_CORRUPT, corrupt: recovery.corrupt.length, first: recovery.corrupt[0] },
        `journal: ${recovery.corrupt.length} corrupt record${recovery.corrupt.length === 1 ? '' : 's'} skipped (${ErrorCodes.JOURNAL_CORRUPT}); the records around them were kept, and hosts may get some events twice`,
      );
    }
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
      case 'description':
      case 'momentary':
      case 'availability':
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
    const deadline = options.drainTimeoutMs ?? defaultGatewayTimeouts.drainTimeoutMs;
    await Promise.all([...this.devices.values()].map((d) => d.supervisor.stop()));
    for (const device of this.devices.values()) this.availability.clear(device);
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

  private emitState(device: DeviceRuntime, event: StateEvent): void {
    const { channel, value } = event;
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
    const described = device.description?.channels[channel];
    if (described !== undefined) {
      if (described.kind === 'event') {
        // A driver's state on a channel it described as an event: routed as the event (a copy, on this rare path only).
        this.emitMomentary(device, { ...event, kind: 'momentary' });
        return;
      }
      if (!fitsKind(described, value)) {
        this.wrongKind(device, channel, value);
        return;
      }
    }
    this.store.apply(event);
    device.emitted++;
    this.availability.heard(device);
    if (!device.paused) this.route(event, device.hosts);
  }

  /** A value that does not fit its described kind is not routed: counted, and logged once per channel. */
  private wrongKind(device: DeviceRuntime, channel: string, value: JsonValue): void {
    this.deviceCounter(device, 'values_refused').inc();
    const logged = (device.wrongKindLogged ??= new Set());
    if (logged.has(channel)) return;
    logged.add(channel);
    const kind = device.description?.channels[channel]?.kind;
    this.logger.warn({ device: device.id, channel }, `device ${device.id} reported ${quoteForLog(value)} for ${channel}, which is described as ${kind}; not routed (logged once per channel)`);
  }

  private emitMomentary(device: DeviceRuntime, event: MomentaryEvent): void {
    const { channel, value } = event;
    if (typeof channel !== 'string' || channel.length === 0) {
      this.logger.warn({ device: device.id, channel }, `device ${device.id} reported a momentary event without a channel name; ignored`);
      return;
    }
    if (typeof value === 'object' && value !== null && jsonDepthExceeds(value)) {
      this.logger.warn({ device: device.id, channel }, `device ${device.id} reported a ${channel} event nested deeper than ${MAX_JSON_DEPTH} levels; ignored`);
      return;
    }
    device.emitted++;
    this.availability.heard(device);
    if (!device.paused) this.route(event, device.hosts);
  }

  private describeDevice(device: DeviceRuntime, input: unknown): void {
    const parsed = DeviceDescriptionSchema.safeParse(input);
    if (!parsed.success) {
      this.deviceCounter(device, 'descriptions_refused').inc();
      const problems = parsed.error.issues.map((i) => `${formatPath('description', i.path)}: ${i.message}`);
      this.logger.warn({ device: device.id, problems }, `device ${device.id} sent a description that fails its schema; refused (${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''})`);
      return;
    }
    const description = parsed.data;
    device.description = description;
    device.wrongKindLogged = undefined;
    this.store.setDescription(device.id, description);
    const interval = description.reportIntervalMs;
    device.staleAfterMs = device.configuredStaleAfterMs ?? (interval === undefined ? undefined : 3 * interval);
    this.logger.info({ device: device.id, channels: Object.keys(description.channels).length }, `device ${device.id} described as "${description.name}"`);
    const now = Date.now();
    const event: DescriptionEvent = { kind: 'description', id: newEventId(now), time: now, origin: device.id, device: device.id, description };
    this.route(event, device.hosts);
    this.availability.arm(device);
  }

  /** A counter made once per name and labels (refusals are not on the hot path, but bursts are). */
  private counterFor(name: string, help: string, labels: Readonly<Record<string, string>>): Counter {
    const key = `${name}\u0000${Object.values(labels).join('\u0000')}`;
    let counter = this.counters.get(key);
    if (counter === undefined) {
      counter = this.metrics.counter(name, help, labels);
      this.counters.set(key, counter);
    }
    return counter;
  }

  private hostCounter(host: HostRuntime, which: 'stalls' | 'expired'): Counter {
    const labels = { host: host.id, adapter: host.type };
    return which === 'stalls'
      ? this.counterFor('patchbay_host_stalls_total', 'Times a host made no delivery progress for gateway.stallTimeoutMs', labels)
      : this.counterFor('patchbay_host_momentary_events_expired_total', 'Momentary events dropped undelivered past gateway.eventTtlMs', labels);
  }

  private deviceCounter(device: DeviceRuntime, which: 'values_refused' | 'descriptions_refused'): Counter {
    const labels = { device: device.id, driver: device.type };
    return which === 'values_refused'
      ? this.counterFor('patchbay_device_values_refused_total', 'Values from a driver that did not fit the channel description (not routed)', labels)
      : this.counterFor('patchbay_device_descriptions_refused_total', 'Device descriptions refused for failing their schema', labels);
  }

  /** Commands a host sent that the gateway refused, by the refusal's code (issue 15.7). */
  private refusalCounter(host: HostRuntime, code: ErrorCode): Counter {
    return this.counterFor('patchbay_commands_refused_total', 'Commands refused by the gateway before or instead of reaching the device, by the asking host and the code', { host: host.id, adapter: host.type, reason: code });
  }

  /** The one routing step: number the event, journal it, hand it to each target outbox. */
  private route(event: OutboundEvent, hosts: readonly HostRuntime[]): void {
    const seq = ++this.seq;
    if (this.journal !== undefined) {
      this.journal.append(seq, event);
      // A reply closes its command: written before any host can be handed it (outboxes deliver
      // in this call), or a kill -9 between the two would answer that command again with a
      // PB210 after the host had its reply. One write per reply; states wait for the batch.
      if (event.kind === 'reply') this.journal.flush();
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

  private publishStatus(endpoint: string, { status, reason }: { status: EndpointStatus; reason: string | undefined }, hosts: readonly HostRuntime[]): void {
    const now = Date.now();
    const event: StatusEvent = { kind: 'status', id: newEventId(now), time: now, origin: endpoint, endpoint, status, reason };
    this.route(event, hosts);
  }

  private publishHostStatus(host: HostRuntime): void {
    const others = [...this.hosts.values()].filter((h) => h !== host);
    this.publishStatus(host.id, hostStatus(host), others);
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
    const started = performance.now();
    const finish = (reply: ReplyEvent, refused = false): ReplyEvent => {
      (this.commandSeconds.get(host.id) ?? noHistogram).observe((performance.now() - started) / 1000);
      if (refused && reply.code !== undefined) this.refusalCounter(host, reply.code as ErrorCode).inc();
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
        else {
          this.noteOutboxFull(host);
          try {
            options.onUnqueued?.(reply);
          } catch (error) {
            this.logger.error({ err: error, host: host.id, commandId: command.id }, `host ${host.id}'s onUnqueued for command ${command.id} threw: ${describeError(error)}`);
          }
        }
      }
      return reply;
    };
    try {
      if (invalid !== undefined) return finish(failedReply(command, ErrorCodes.COMMAND_INVALID, invalid), true);
      const device = this.devices.get(command.device);
      const refusal = this.refusal(host, device, command) ?? checkCommand(command, (device as DeviceRuntime).description);
      if (refusal) return finish(failedReply(command, refusal.code, refusal.message), true);
      if (options.deliverReply) {
        // Room for the reply is taken now, so concurrent commands cannot all pass the check.
        if (!host.outbox.reserveReply()) {
          return finish(failedReply(command, ErrorCodes.OUTBOX_FULL, `host "${host.id}" has too many undelivered replies; retry when it has caught up`), true);
        }
        reserved = true;
        if (host.refusingForRoom) {
          host.refusingForRoom = false;
          this.logger.info({ host: host.id }, `host ${host.id} has room for replies again; accepting its commands`);
        }
        if (this.journal) {
          const journal = this.journal;
          // The reply must survive a crash: the command is on disk before anyone is told it was accepted.
          const written = journal.health().status === 'ok' && (await new Promise<boolean>((resolve) => journal.command(command, resolve)));
          if (!written) return finish(failedReply(command, ErrorCodes.JOURNAL_UNAVAILABLE, `the gateway cannot journal commands (${journal.health().reason ?? 'write failed'}); refused so that none is lost; retry later`), true);
        }
      }
      try {
        options.onAccepted?.();
      } catch (error) {
        this.logger.error({ err: error, host: host.id, commandId: command.id }, `host ${host.id}'s onAccepted for command ${command.id} threw: ${describeError(error)}`);
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
    const health = gatewayHealth({ name: this.name, startedAt: this.startedAt, devices: this.devices.values(), hosts: this.hosts.values(), store: this.store, journal: this.journal?.health() });
    if (this.options.clusterHealth) health.cluster = this.options.clusterHealth() ?? null;
    return health;
  }

  snapshot(): StateSnapshot {
    return this.store.snapshot();
  }
}
