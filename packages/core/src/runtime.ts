import type { Adapter, AdapterDefinition, Driver, DriverDefinition, HostConnection } from './definitions.js';
import type { EndpointSpec } from './spec.js';
import type { Availability, DeviceDescription } from './description.js';
import type { EndpointStatus } from './events.js';
import type { DeviceInfo, EndpointHealth, GatewayHealth } from './health.js';
import type { JournalHealth } from './journal.js';
import type { InputBudget } from './inputBudget.js';
import type { Outbox } from './outbox.js';
import type { StateStore } from './stateStore.js';
import type { Supervisor } from './supervisor.js';

/** What the gateway keeps per device while it runs. */
export interface DeviceRuntime {
  id: string;
  type: string;
  /** What the config said (a reload compares and swaps it). */
  spec: EndpointSpec<DriverDefinition>;
  /** `spec.options` as its definition's schema parsed them. */
  config: unknown;
  supervisor: Supervisor<Driver>;
  driver: Driver | undefined;
  hosts: HostRuntime[];
  paused: boolean;
  emitted: number;
  commandsFailed: number;
  /**
   * Values that did not fit their channel's description, and descriptions that failed their
   * schema: plain numbers that /metrics reads from health, rather than two counter series per
   * device (a labels object, its text and a closure each, at 10,000 devices; issue 20).
   */
  valuesRefused: number;
  descriptionsRefused: number;
  /** What the driver said the device is. */
  description: DeviceDescription | undefined;
  /** Silence longer than this makes the device `stale` (undefined: never). */
  staleAfterMs: number | undefined;
  /** From the config; else derived from the description's report interval. */
  configuredStaleAfterMs: number | undefined;
  availability: Availability;
  availabilityReason: string | undefined;
  /** The driver said the device does not answer, and why; cleared by its next report. */
  reportedOffline: string | undefined;
  /** Silent past `staleAfterMs`: set by the stale timer, cleared by the next report. */
  silent: boolean;
  staleTimer: NodeJS.Timeout | undefined;
  /** Channels whose wrong-kind values were already logged (once each). */
  wrongKindLogged: Set<string> | undefined;
  /** A remote device: the gateway that owns it (undefined for this gateway's own). */
  origin?: string;
  /** A remote device: the host that brought it in, which is not routed it. */
  via?: string;
}

/** What the gateway keeps per host while it runs. */
export interface HostRuntime {
  id: string;
  type: string;
  /** What the config said (a reload compares and swaps it). */
  spec: EndpointSpec<AdapterDefinition>;
  /** `spec.options` as its definition's schema parsed them. */
  config: unknown;
  supervisor: Supervisor<Adapter>;
  outbox: Outbox;
  devices: DeviceRuntime[];
  deviceIds: Set<string>;
  reachable: boolean;
  unreachableReason: string | undefined;
  lastSeen: number | null;
  /** Its replies fill its outbox: commands are refused (logged once per episode). */
  refusingForRoom: boolean;
  /** Deliveries failed while it was still starting: its first success is "ready", not "reachable again". */
  waitedForStart?: boolean;
  /** Expired momentary events were logged this episode (until it is reachable again). */
  expiredLogged: boolean;
  /** The adapter once its start() returned, until it stops: attached to the outbox when alive. */
  started?: Adapter | undefined;
  /** What the adapter last said it is connected to (undefined until it says). */
  connection: HostConnection | undefined;
}

/** A host that runs but cannot be delivered to is reported `unknown`, with why. */
export function hostStatus(host: HostRuntime): { status: EndpointStatus; reason: string | undefined } {
  const supervisor = host.supervisor;
  if (supervisor.status === 'alive' && !host.reachable) return { status: 'unknown', reason: host.unreachableReason };
  if (supervisor.status === 'alive' && host.outbox.stalled) return { status: 'unknown', reason: 'stalled: a delivery is making no progress; events wait in its outbox' };
  return { status: supervisor.status, reason: supervisor.reason };
}

function connectionHealth(connection: HostConnection): Pick<EndpointHealth, 'connected' | 'peers' | 'connection'> {
  const health: Pick<EndpointHealth, 'connected' | 'peers' | 'connection'> = { connected: connection.connected };
  if (connection.peers !== undefined) health.peers = connection.peers;
  if (connection.detail !== undefined) health.connection = connection.detail;
  return health;
}

/** A device as hosts may list it. */
export function deviceInfo(device: DeviceRuntime, store: StateStore): DeviceInfo {
  return {
    id: device.id,
    driver: device.type,
    status: device.supervisor.status,
    reason: device.supervisor.reason,
    lastSeen: store.lastSeen(device.id),
    paused: device.paused,
    availability: device.availability,
    ...(device.availabilityReason === undefined ? {} : { availabilityReason: device.availabilityReason }),
    ...(device.description === undefined ? {} : { description: device.description }),
    ...(device.origin === undefined ? {} : { origin: device.origin }),
  };
}

/** The `/healthz` report: `ok` when every endpoint is alive and the journal (if any) can write. */
export function gatewayHealth(gateway: {
  name: string;
  startedAt: number;
  devices: Iterable<DeviceRuntime>;
  hosts: Iterable<HostRuntime>;
  store: StateStore;
  journal?: JournalHealth | undefined;
  input: InputBudget;
}): GatewayHealth {
  // Every device at each /healthz (polled while 10,000 start): one object each, no copy of the
  // list and no spread objects; the optional keys go last, in the order JSON has them.
  const devices: EndpointHealth[] = [];
  for (const d of gateway.devices) {
    const entry: EndpointHealth = {
      id: d.id,
      kind: 'device',
      type: d.type,
      status: d.supervisor.status,
      reason: d.supervisor.reason,
      lastSeen: gateway.store.lastSeen(d.id),
      queued: 0,
      delivered: d.emitted,
      failed: d.commandsFailed,
      retries: 0,
      restarts: d.supervisor.restarts,
      availability: d.availability,
    };
    if (d.availabilityReason !== undefined) entry.availabilityReason = d.availabilityReason;
    if (d.origin !== undefined) entry.origin = d.origin;
    // Only once there are any: every device's entry is in each /healthz and each ws snapshot.
    if (d.valuesRefused > 0) entry.valuesRefused = d.valuesRefused;
    if (d.descriptionsRefused > 0) entry.descriptionsRefused = d.descriptionsRefused;
    devices.push(entry);
  }
  const hosts: EndpointHealth[] = [...gateway.hosts].map((h) => {
    const { status, reason } = hostStatus(h);
    return {
      id: h.id,
      kind: 'host',
      type: h.type,
      status,
      reason,
      lastSeen: h.lastSeen,
      queued: h.outbox.queued,
      oldestQueuedMs: Math.round(h.outbox.oldestQueuedMs),
      delivered: h.outbox.delivered,
      failed: h.outbox.failed,
      retries: h.outbox.retries,
      restarts: h.supervisor.restarts,
      stalled: h.outbox.stalled,
      ...(h.connection === undefined ? {} : connectionHealth(h.connection)),
    };
  });
  const journal = gateway.journal;
  const ok = devices.every((d) => d.status === 'alive') && hosts.every((h) => h.status === 'alive') && journal?.status !== 'degraded';
  const { input } = gateway;
  const health: GatewayHealth = {
    status: ok ? 'ok' : 'degraded',
    name: gateway.name,
    uptimeMs: Date.now() - gateway.startedAt,
    devices,
    hosts,
    input: { bufferedBytes: input.usedBytes, peakBytes: input.peakBytes, limitBytes: input.limitBytes, refused: input.refused },
  };
  if (journal !== undefined) health.journal = journal;
  return health;
}
