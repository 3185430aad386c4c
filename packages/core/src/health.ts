import type { Availability, DeviceDescription } from './description.js';
import type { EndpointStatus, JsonValue } from './events.js';
import type { JournalHealth } from './journal.js';

/** One channel's latest value. */
export interface ChannelState {
  channel: string;
  value: JsonValue;
  /** When the device reported it (epoch ms). */
  time: number;
}

/** One device's retained state. */
export interface DeviceState {
  device: string;
  status: EndpointStatus;
  /** Last time the device reported anything (epoch ms), or null if never. */
  lastSeen: number | null;
  /** True while the driver is alive. */
  available: boolean;
  /** `online`, `offline` (driver down, or the device does not answer) or `stale` (silent too long). */
  availability: Availability;
  availabilityReason?: string;
  /** What the device is, when its driver described it. */
  description?: DeviceDescription;
  channels: ChannelState[];
}

/** The current state of a set of devices: what a host that (re)connects is sent first. */
export interface StateSnapshot {
  devices: DeviceState[];
}

/** A device as hosts may list it. */
export interface DeviceInfo {
  id: string;
  driver: string;
  status: EndpointStatus;
  reason?: string;
  lastSeen: number | null;
  paused: boolean;
  availability: Availability;
  availabilityReason?: string;
  description?: DeviceDescription;
  /** A device another gateway of the cluster owns: that gateway (issue 19). */
  origin?: string;
}

/** The health of one device or host, as `/healthz` reports it. */
export interface EndpointHealth {
  id: string;
  kind: 'device' | 'host';
  type: string;
  status: EndpointStatus;
  reason?: string;
  lastSeen: number | null;
  /** Events waiting in the host's outbox (0 for devices). */
  queued: number;
  /** Hosts only: how long the oldest of them has waited, ms (0 when none waits). */
  oldestQueuedMs?: number;
  delivered: number;
  failed: number;
  retries: number;
  restarts: number;
  /** Hosts only, once the adapter reported it: a peer of the platform is there. */
  connected?: boolean;
  /** Hosts only: how many peers, where the protocol has several. */
  peers?: number;
  /** Hosts only: what the adapter says it is connected to. */
  connection?: string;
  /** Hosts only: a delivery has made no progress for `stallTimeoutMs`. */
  stalled?: boolean;
  /** Devices only: `online`, `offline` or `stale`. */
  availability?: Availability;
  availabilityReason?: string;
  /** Devices only: the gateway that owns a remote device. */
  origin?: string;
  /** Devices only, when there were any: values refused for not fitting their channel's description. */
  valuesRefused?: number;
  /** Devices only, when there were any: descriptions refused for failing their schema. */
  descriptionsRefused?: number;
}

/** The whole gateway's health: `ok` when every endpoint is alive and the journal can write. */
export interface GatewayHealth {
  status: 'ok' | 'degraded';
  name: string;
  uptimeMs: number;
  devices: EndpointHealth[];
  hosts: EndpointHealth[];
  /** The journal's own state, when the gateway has one. */
  journal?: JournalHealth;
  /** Unfinished client input held over every listener, against `gateway.maxBufferedBytes` (issue 13.7). */
  input: InputHealth;
  /** Gateways of a cluster only: the link's view of the cluster, null until the link starts (issue 19.7). */
  cluster?: ClusterHealth | null;
}

/** The gateway-wide input budget, as `/healthz` shows it. */
export interface InputHealth {
  bufferedBytes: number;
  /** The most held at once since start. */
  peakBytes: number;
  limitBytes: number;
  /** Takes refused for want of room since start (each one a message refused and its connection closed). */
  refused: number;
}

/** One gateway of the cluster, as `/healthz` shows it. */
export interface ClusterGatewayHealth {
  id: string;
  /** `online`/`offline` as its retained status says; `unknown` until heard (or while our own link is down). */
  status: 'online' | 'offline' | 'unknown';
  /** This gateway itself. */
  self?: true;
  devices: string[];
}

/** The cluster section of `/healthz` (issue 19.7). */
export interface ClusterHealth {
  cluster: string;
  gateway: string;
  broker: string;
  connected: boolean;
  gateways: ClusterGatewayHealth[];
  /** Device ids refused because another gateway announced them first (issue 19.3). */
  refused: { device: string; gateway: string; heldBy: string; reason: string }[];
}
