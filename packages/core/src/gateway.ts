import { AvailabilityTracker } from './availability.js';
import { type BackoffPolicy } from './backoff.js';
import { CommandPath } from './commandPath.js';
import { assertInstance, type Adapter, type AdapterDefinition, type Driver, type DriverDefinition, type HttpMount, type SubmitOptions } from './definitions.js';
import { DeviceIntake } from './deviceIntake.js';
import { DeviceSupervision, type DeviceSupervisionDeps } from './deviceSupervision.js';
import { ErrorCodes, PatchbayError } from './errors.js';
import { EventRouter } from './eventRouter.js';
import { newEventId, type CommandInput, type ReplyEvent } from './events.js';
import { GatewayCounters } from './gatewayCounters.js';
import type { ClusterHealth, GatewayHealth, StateSnapshot } from './health.js';
import { createHostContext, type HostContextDeps } from './hostContext.js';
import { defaultInputBudgetBytes, InputBudget } from './inputBudget.js';
import { hostOutboxHooks } from './hostOutbox.js';
import type { Journal } from './journal.js';
import { recoverJournal } from './journalRecovery.js';
import { LiveReload } from './liveReload.js';
import { lazyChild, silentLogger, type Logger } from './logger.js';
import { latencyBuckets, noopMetrics, type MetricsSink } from './metrics.js';
import { defaultOutboxOptions, Outbox, type OutboxOptions } from './outbox.js';
import type { ReloadResult, ReloadSpec } from './reload.js';
import { remoteDeviceProblem, type RemoteDeviceSpec } from './remote.js';
import { gatewayHealth, hostStatus, type DeviceRuntime, type HostRuntime } from './runtime.js';
import { checkGatewaySpec, type EndpointSpec, type RouteSpec } from './spec.js';
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
  /** The gateway-wide bound on unfinished client input, over every listener ({@link HostContext.inputBudget}; default 256 MiB). */
  maxBufferedBytes?: number;
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
  /**
   * Resolves once everything journaled so far is written, so that a `kill -9` from then on
   * loses none of it: what a host waits for before it acknowledges to its own peer what it
   * handed this core (the cluster link's PUBACK, issue 19.6). At once without a journal, and
   * while the journal cannot write (what comes in is then routed from memory, as always).
   */
  flushJournal(): Promise<void>;
}

/** The gateway's timing defaults; the app's config imports them rather than repeating them. */
export const defaultGatewayTimeouts = {
  /** How long a device has to answer a command. */
  commandTimeoutMs: 5000,
  /** How long `stop()` waits for outboxes to drain before leaving the rest to the journal. */
  drainTimeoutMs: 5000,
} as const;

/** Creates the gateway; throws `CONFIG_INVALID` listing every problem in the spec. */
export function createGateway(options: GatewayOptions): Gateway {
  return new GatewayRuntime(options);
}

/**
 * The composition: the devices and hosts with their supervisors and outboxes, wired to the
 * parts that do the work: the router (numbering, journaling, fan-out), the device intake
 * (what drivers report), the command path (what hosts ask), journal recovery and live reload.
 */
class GatewayRuntime implements Gateway {
  readonly name: string;
  private readonly logger: Logger;
  private readonly metrics: MetricsSink;
  private readonly journal: Journal | undefined;
  private readonly store = new StateStore();
  private readonly devices = new Map<string, DeviceRuntime>();
  private readonly hosts = new Map<string, HostRuntime>();
  private readonly startedAt = Date.now();
  private stopping = false;
  private started = false;
  private readonly router: EventRouter;
  private readonly counters: GatewayCounters;
  private readonly availability: AvailabilityTracker;
  private readonly intake: DeviceIntake;
  /** What every device's supervision (and its driver context) reaches of this gateway, made once. */
  private readonly deviceSupervisionDeps: DeviceSupervisionDeps;
  private readonly commands: CommandPath;
  private readonly live: LiveReload;
  private readonly restartPolicy: RestartPolicy;
  private readonly outboxOptions: OutboxOptions;
  private readonly inputBudget: InputBudget;
  private routes: readonly RouteSpec[] | undefined;

  constructor(private readonly options: GatewayOptions) {
    this.inputBudget = new InputBudget(options.maxBufferedBytes ?? defaultInputBudgetBytes);
    this.name = options.name ?? 'patchbay';
    const logger = (this.logger = options.logger ?? silentLogger);
    this.metrics = options.metrics ?? noopMetrics;
    this.journal = options.journal;
    const router = (this.router = new EventRouter(this.journal, this.hosts));
    const counters = (this.counters = new GatewayCounters(this.metrics));
    const store = this.store;
    const availability = (this.availability = new AvailabilityTracker({
      store,
      logger,
      isStopping: () => this.stopping,
      publish: (device, event) => router.route(event, device.hosts),
    }));
    this.intake = new DeviceIntake({ store, logger, availability, router });
    this.commands = new CommandPath({
      devices: this.devices,
      journal: this.journal,
      logger,
      metrics: this.metrics,
      router,
      counters,
      commandTimeoutMs: options.commandTimeoutMs ?? defaultGatewayTimeouts.commandTimeoutMs,
      isStopping: () => this.stopping,
    });
    this.live = new LiveReload({
      devices: this.devices,
      hosts: this.hosts,
      journal: this.journal,
      logger,
      availability,
      router,
      remoteRoutes: options.remoteRoutes === true,
      isRunning: () => this.started && !this.stopping,
      addDevice: (spec, config) => this.addDevice(spec, config),
      addHost: (spec, config) => this.addHost(spec, config),
      routes: () => this.routes,
      setRoutes: (routes) => {
        this.routes = routes;
        return this.rewireRoutes();
      },
      sendCurrent: (device, host) => this.sendCurrent(device, host),
    });
    const parsed = checkGatewaySpec({ ...options, remoteRoutes: options.remoteRoutes === true });
    const outboxOptions: OutboxOptions = { ...defaultOutboxOptions, ...options.outbox };
    if (options.eventTtlMs !== undefined) outboxOptions.eventTtlMs = options.eventTtlMs;
    if (options.stallTimeoutMs !== undefined) outboxOptions.stallTimeoutMs = options.stallTimeoutMs;
    this.restartPolicy = { ...defaultRestartPolicy, ...options.restart };
    this.outboxOptions = outboxOptions;
    const driverContext = { gatewayName: this.name, metrics: this.metrics, intake: this.intake, availability };
    this.deviceSupervisionDeps = { store, router, availability, driverContext, policy: this.restartPolicy };
    for (const spec of options.devices) this.addDevice(spec, parsed.get(spec.id));
    for (const spec of options.hosts) this.addHost(spec, parsed.get(spec.id));
    this.routes = options.routes;
    this.wireRoutes(options.routes);
  }

  reload(next: ReloadSpec): Promise<ReloadResult> {
    return this.live.reload(next);
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
      this.router.route({ kind: 'description', id: newEventId(now), time: now, origin: device.id, device: device.id, description: device.description }, [host]);
    }
    // This device's channels only: a reload that links many devices to a host must not walk
    // every device's state for each one.
    for (const state of this.store.channels(device.id)) {
      this.router.route({ kind: 'state', id: newEventId(state.time), time: state.time, origin: device.id, device: device.id, channel: state.channel, value: state.value }, [host]);
    }
    this.router.route({ kind: 'availability', id: newEventId(now), time: now, origin: device.id, device: device.id, availability: device.availability, reason: device.availabilityReason, lastSeen: this.store.lastSeen(device.id) }, [host]);
  }

  get routed(): number {
    return this.router.seq;
  }

  private addDevice(spec: EndpointSpec<DriverDefinition>, config: unknown): DeviceRuntime {
    const { id, definition } = spec;
    const logger = lazyChild(this.logger, { device: id });
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
      valuesRefused: 0,
      descriptionsRefused: 0,
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
    runtime.supervisor = new Supervisor<Driver>(new DeviceSupervision(runtime, logger, this.deviceSupervisionDeps));
    this.store.addDevice(id);
    this.devices.set(id, runtime);
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
      submit: (host, command, options) => this.commands.submit(host, command, options),
      health: () => this.health(),
      onStopRequested: this.options.onStopRequested,
      inputBudget: this.inputBudget,
    };
  }

  private addHost(spec: EndpointSpec<AdapterDefinition>, config: unknown): HostRuntime {
    const { id, definition } = spec;
    const logger = this.logger.child({ host: id });
    const runtime = { id, type: definition.type, spec, config, devices: [], deviceIds: new Set(), reachable: true, unreachableReason: undefined, lastSeen: null, refusingForRoom: false, expiredLogged: false, connection: undefined } as unknown as HostRuntime;
    const labels = { host: id, adapter: definition.type };
    this.commands.addHost(runtime);
    runtime.outbox = new Outbox(
      this.outboxOptions,
      hostOutboxHooks(runtime, logger, {
        journal: this.journal,
        eventTtlMs: this.outboxOptions.eventTtlMs,
        stalls: this.counters.host(runtime, 'stalls'),
        expired: this.counters.host(runtime, 'expired'),
        latency: this.metrics.histogram?.({ name: 'patchbay_host_delivery_seconds', help: 'Time from an event being routed to a host to the host taking it (its delivery settled)', labels, buckets: latencyBuckets }),
        statusChanged: () => this.publishHostStatus(runtime),
      }),
    );
    runtime.supervisor = new Supervisor<Adapter>({
      label: `host ${id} (${definition.type})`,
      logger,
      policy: this.restartPolicy,
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
    const device = this.addDevice({ id: spec.id, definition: spec.definition, options: {} }, {});
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
    if (this.journal) await recoverJournal(this.journal, { store: this.store, devices: this.devices, hosts: this.hosts, router: this.router, logger: this.logger });
    await Promise.all([...this.hosts.values()].map((h) => h.supervisor.start()));
    await Promise.all([...this.devices.values()].map((d) => d.supervisor.start()));
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
      await this.commands.settled();
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

  private publishHostStatus(host: HostRuntime): void {
    const others = [...this.hosts.values()].filter((h) => h !== host);
    this.router.status(host.id, hostStatus(host), others);
  }

  flushJournal(): Promise<void> {
    // Journal.flush writes synchronously (the interface's contract), so nothing more to wait for.
    this.journal?.flush();
    return Promise.resolve();
  }

  submit(host: string, command: CommandInput, options?: SubmitOptions): Promise<ReplyEvent> {
    const runtime = this.hosts.get(host);
    if (!runtime) return Promise.reject(new PatchbayError(ErrorCodes.CONFIG_INVALID, `unknown host "${host}"`, { context: { host } }));
    return this.commands.submit(runtime, command, options);
  }

  health(): GatewayHealth {
    const health = gatewayHealth({ name: this.name, startedAt: this.startedAt, devices: this.devices.values(), hosts: this.hosts.values(), store: this.store, journal: this.journal?.health(), input: this.inputBudget });
    if (this.options.clusterHealth) health.cluster = this.options.clusterHealth() ?? null;
    return health;
  }

  snapshot(): StateSnapshot {
    return this.store.snapshot();
  }
}
