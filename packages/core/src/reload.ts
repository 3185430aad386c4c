import type { AdapterDefinition, DriverDefinition } from './definitions.js';
import type { EndpointSpec, RouteSpec } from './spec.js';

/** What a running gateway can be reloaded with: its endpoints and routes. */
export interface ReloadSpec {
  devices: readonly EndpointSpec<DriverDefinition>[];
  hosts: readonly EndpointSpec<AdapterDefinition>[];
  routes?: readonly RouteSpec[] | undefined;
}

/** What a reload did, by endpoint id: the answer to `patchbay reload`. */
export interface ReloadResult {
  /** Running before and after with a changed config: stopped and started again, queues kept. */
  restarted: string[];
  /** New in the config: started. */
  added: string[];
  /** Gone from the config: stopped, a host's journal cursor released. */
  removed: string[];
  /** Untouched: their connections and queues were never disturbed. */
  unchanged: string[];
  /** True when the routes changed (devices newly routed to a host are sent their current state). */
  routesChanged: boolean;
}

/** The per-kind part of a reload plan. */
export interface ReloadPlan<D> {
  added: EndpointSpec<D>[];
  changed: EndpointSpec<D>[];
  removed: string[];
  unchanged: string[];
}

/**
 * Two specs of one endpoint are the same when their type, options and (devices) staleness are:
 * what a restart would change. Options come from the same parser every time, so their JSON
 * is a faithful comparison.
 */
export function sameEndpoint(a: EndpointSpec<{ type: string }>, b: EndpointSpec<{ type: string }>): boolean {
  return a.definition === b.definition && a.definition.type === b.definition.type && a.staleAfterMs === b.staleAfterMs && JSON.stringify(a.options ?? {}) === JSON.stringify(b.options ?? {});
}

/** Sorts the next config's endpoints of one kind into added, changed, removed and unchanged. */
export function planEndpoints<D extends { type: string }>(current: ReadonlyMap<string, EndpointSpec<D>>, next: readonly EndpointSpec<D>[]): ReloadPlan<D> {
  const plan: ReloadPlan<D> = { added: [], changed: [], removed: [], unchanged: [] };
  const nextIds = new Set<string>();
  for (const spec of next) {
    nextIds.add(spec.id);
    const now = current.get(spec.id);
    if (now === undefined) plan.added.push(spec);
    else if (sameEndpoint(now, spec)) plan.unchanged.push(spec.id);
    else plan.changed.push(spec);
  }
  for (const id of current.keys()) if (!nextIds.has(id)) plan.removed.push(id);
  return plan;
}

/** The routes as a comparable text: absent and empty both mean every device to every host. */
export function routesKey(routes: readonly RouteSpec[] | undefined): string {
  return routes === undefined || routes.length === 0 ? '*' : JSON.stringify(routes.map((r) => [[...r.devices].sort(), [...r.hosts].sort()]));
}
