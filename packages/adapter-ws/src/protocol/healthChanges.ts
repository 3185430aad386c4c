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

/** What was last sent, per endpoint: a comparison key of the fields that count as a change. */
export interface HealthBaseline {
  status: GatewayHealth['status'];
  journal: string;
  cluster: string;
  endpoints: Map<string, string>;
}

/**
 * A device's `lastSeen` and event count move with every report, which every client already
 * receives as a state event: comparing them would put every busy device in every message
 * again (151 KB a second at 1,000 devices, issue 14.3 / 20.3). A device entry is sent again
 * when its status, availability, restarts, failures or refusals change, carrying its current figures.
 */
function entryKey(entry: EndpointHealth): string {
  if (entry.kind === 'device') {
    return JSON.stringify([entry.type, entry.status, entry.reason, entry.availability, entry.availabilityReason, entry.failed, entry.restarts, entry.valuesRefused, entry.descriptionsRefused]);
  }
  return JSON.stringify(entry);
}

/** The baseline of a whole report, as a client that was just sent it knows it. */
export function healthBaseline(health: GatewayHealth): HealthBaseline {
  const endpoints = new Map<string, string>();
  for (const entry of health.devices) endpoints.set(`d\u0000${entry.id}`, entryKey(entry));
  for (const entry of health.hosts) endpoints.set(`h\u0000${entry.id}`, entryKey(entry));
  return { status: health.status, journal: JSON.stringify(health.journal ?? null), cluster: JSON.stringify(health.cluster ?? null), endpoints };
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
  const collect = (entries: EndpointHealth[], prefix: string, into: EndpointHealth[]): void => {
    for (const entry of entries) {
      const key = `${prefix}${entry.id}`;
      if (base.endpoints.get(key) !== next.endpoints.get(key)) {
        into.push(entry);
        changed = true;
      }
    }
  };
  collect(health.devices, 'd\u0000', changes.devices);
  collect(health.hosts, 'h\u0000', changes.hosts);
  for (const key of base.endpoints.keys()) {
    if (!next.endpoints.has(key)) {
      changes.removed.push(key.slice(2));
      changed = true;
    }
  }
  return changed ? changes : undefined;
}
