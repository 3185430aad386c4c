import type { EndpointHealth, GatewayHealth } from '@patchbay/core';

/**
 * What a `health` message carries after the snapshot: only what changed since the last one.
 * `devices` and `hosts` list the entries that changed (whole, so a client replaces them by
 * id); `removed` the ids that are gone; `status`, `journal` and `cluster` come only when they
 * changed. `cluster` comes whole: a few gateways with their device ids, small beside the devices.
 */
export interface HealthChanges {
  status?: GatewayHealth['status'];
  journal?: GatewayHealth['journal'];
  cluster?: GatewayHealth['cluster'];
  devices: EndpointHealth[];
  hosts: EndpointHealth[];
  removed: string[];
}

/**
 * What was last sent, per endpoint: a device's entry as it was (compared field by field), a
 * host's as its JSON; devices and hosts apart and keyed by their ids as they are, so that a
 * tick at 10,000 devices builds no string per device (issue 20).
 */
export interface HealthBaseline {
  status: GatewayHealth['status'];
  journal: string;
  cluster: string;
  devices: Map<string, EndpointHealth>;
  hosts: Map<string, string>;
}

/**
 * A device's `lastSeen` and event count move with every report, which every client already
 * receives as a state event: comparing them would put every busy device in every message
 * again (151 KB a second at 1,000 devices, issue 14.3 / 20.3). A device entry is sent again
 * when its status, availability, restarts or failures change, or when something from it is
 * refused for the first time, carrying its current figures. Refusals count up with every
 * refused value, as reports do: a device misdescribed for good would otherwise be in every one.
 */
function sameDevice(a: EndpointHealth | undefined, b: EndpointHealth): boolean {
  return (
    a !== undefined &&
    a.type === b.type &&
    a.status === b.status &&
    a.reason === b.reason &&
    a.availability === b.availability &&
    a.availabilityReason === b.availabilityReason &&
    a.failed === b.failed &&
    a.restarts === b.restarts &&
    (a.valuesRefused === undefined) === (b.valuesRefused === undefined) &&
    (a.descriptionsRefused === undefined) === (b.descriptionsRefused === undefined)
  );
}

/** The baseline of a whole report, as a client that was just sent it knows it. */
export function healthBaseline(health: GatewayHealth): HealthBaseline {
  const devices = new Map<string, EndpointHealth>();
  const hosts = new Map<string, string>();
  for (const entry of health.devices) devices.set(entry.id, entry);
  for (const entry of health.hosts) hosts.set(entry.id, JSON.stringify(entry));
  return { status: health.status, journal: JSON.stringify(health.journal ?? null), cluster: JSON.stringify(health.cluster ?? null), devices, hosts };
}

/** What changed from `base` to `health`; undefined when nothing did. */
export function healthChanges(base: HealthBaseline, health: GatewayHealth, next: HealthBaseline = healthBaseline(health)): HealthChanges | undefined {
  const changes: HealthChanges = { devices: [], hosts: [], removed: [] };
  let changed = false;
  if (next.status !== base.status) {
    changes.status = health.status;
    changed = true;
  }
  if (next.journal !== base.journal) {
    changes.journal = health.journal;
    changed = true;
  }
  if (next.cluster !== base.cluster) {
    changes.cluster = health.cluster ?? null;
    changed = true;
  }
  for (const entry of health.devices) {
    if (!sameDevice(base.devices.get(entry.id), entry)) {
      changes.devices.push(entry);
      changed = true;
    }
  }
  for (const entry of health.hosts) {
    if (base.hosts.get(entry.id) !== next.hosts.get(entry.id)) {
      changes.hosts.push(entry);
      changed = true;
    }
  }
  const removed = (was: Map<string, unknown>, now: Map<string, unknown>): void => {
    for (const id of was.keys()) {
      if (!now.has(id)) {
        changes.removed.push(id);
        changed = true;
      }
    }
  };
  removed(base.devices, next.devices);
  removed(base.hosts, next.hosts);
  return changed ? changes : undefined;
}
