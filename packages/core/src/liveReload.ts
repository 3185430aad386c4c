import type { AvailabilityTracker } from './availability.js';
import type { AdapterDefinition, DriverDefinition } from './definitions.js';
import type { EventRouter } from './eventRouter.js';
import type { Journal } from './journal.js';
import type { Logger } from './logger.js';
import { planEndpoints, routesKey, type ReloadResult, type ReloadSpec } from './reload.js';
import type { DeviceRuntime, HostRuntime } from './runtime.js';
import { checkGatewaySpec, type EndpointSpec, type RouteSpec } from './spec.js';

/** What a reload changes of the running gateway. */
export interface ReloadTarget {
  devices: Map<string, DeviceRuntime>;
  hosts: Map<string, HostRuntime>;
  journal: Journal | undefined;
  logger: Logger;
  availability: AvailabilityTracker;
  router: EventRouter;
  /** Routes may name remote devices (issue 19). */
  remoteRoutes: boolean;
  /** True while the gateway runs (started, not stopping): what restarts or is added starts. */
  isRunning(): boolean;
  /** Makes a new device's runtime (not started). */
  addDevice(spec: EndpointSpec<DriverDefinition>, config: unknown): DeviceRuntime;
  /** Makes a new host's runtime (not started). */
  addHost(spec: EndpointSpec<AdapterDefinition>, config: unknown): HostRuntime;
  /** The routes now. */
  routes(): readonly RouteSpec[] | undefined;
  /** Takes the new routes and links every device to its hosts anew; returns the pairs not linked before. */
  setRoutes(routes: readonly RouteSpec[] | undefined): [HostRuntime, DeviceRuntime][];
  /** Hands one host what is known of one device. */
  sendCurrent(device: DeviceRuntime, host: HostRuntime): void;
}

/** A device's or host's runtime as a reload swaps its spec. */
interface Restartable<D extends { type: string }> {
  supervisor: { stop(): Promise<void>; start(): Promise<void> };
  spec: EndpointSpec<D>;
  config: unknown;
  type: string;
}

/**
 * Live reload: the running gateway takes a new set of devices, hosts and routes. The whole new
 * spec is checked before anything is touched; then only what changed restarts. Reloads run
 * one at a time, in order.
 */
export class LiveReload {
  private reloading: Promise<unknown> = Promise.resolve();

  constructor(private readonly target: ReloadTarget) {}

  reload(next: ReloadSpec): Promise<ReloadResult> {
    const run = this.reloading.then(() => this.apply(next));
    this.reloading = run.catch(() => undefined);
    return run;
  }

  /**
   * A changed host keeps its runtime, so its outbox keeps its queue and journal cursor; an
   * unchanged one is never stopped, so its peers stay connected.
   */
  private async apply(next: ReloadSpec): Promise<ReloadResult> {
    const target = this.target;
    const parsed = checkGatewaySpec({ ...next, remoteRoutes: target.remoteRoutes });
    // Remote devices come and go with their owners, not with this gateway's config.
    const devices = planEndpoints(new Map([...target.devices].filter(([, d]) => d.origin === undefined).map(([id, d]) => [id, d.spec])), next.devices);
    const hosts = planEndpoints(new Map([...target.hosts].map(([id, h]) => [id, h.spec])), next.hosts);
    const routesChanged = routesKey(target.routes()) !== routesKey(next.routes);
    const result: ReloadResult = {
      restarted: [...devices.changed, ...hosts.changed].map((s) => s.id),
      added: [...devices.added, ...hosts.added].map((s) => s.id),
      removed: [...devices.removed, ...hosts.removed],
      unchanged: [...devices.unchanged, ...hosts.unchanged],
      routesChanged,
    };
    const log = (id: string, what: string): void => target.logger.info({ endpoint: id }, `reload: ${what}`);
    // Devices first, so no host is handed state from a device about to go.
    for (const id of devices.removed) {
      const device = target.devices.get(id) as DeviceRuntime;
      await device.supervisor.stop();
      target.availability.clear(device);
      target.devices.delete(id);
      log(id, `device ${id} removed`);
    }
    for (const id of hosts.removed) {
      const host = target.hosts.get(id) as HostRuntime;
      await host.supervisor.stop();
      host.outbox.close();
      target.hosts.delete(id);
      if (target.journal !== undefined) target.journal.release(id);
      log(id, `host ${id} removed${host.outbox.queued > 0 ? `; ${host.outbox.queued} undelivered events dropped with its journal cursor` : ''}`);
    }
    const restart = async <D extends { type: string }>(runtime: Restartable<D>, spec: EndpointSpec<D>): Promise<void> => {
      await runtime.supervisor.stop();
      runtime.spec = spec;
      runtime.config = parsed.get(spec.id);
      runtime.type = spec.definition.type;
      if (target.isRunning()) await runtime.supervisor.start();
    };
    for (const spec of hosts.changed) {
      const host = target.hosts.get(spec.id) as HostRuntime;
      await restart(host, spec);
      log(spec.id, `host ${spec.id} restarted with its new options (${host.outbox.queued} queued events kept)`);
    }
    const addedHosts = hosts.added.map((spec) => target.addHost(spec, parsed.get(spec.id)));
    // A new host has been owed nothing so far; from now on it needs a cursor.
    if (target.journal !== undefined) for (const host of addedHosts) target.journal.ack(host.id, target.router.seq);
    const addedDevices = devices.added.map((spec) => target.addDevice(spec, parsed.get(spec.id)));
    for (const spec of devices.changed) {
      const device = target.devices.get(spec.id) as DeviceRuntime;
      device.configuredStaleAfterMs = spec.staleAfterMs;
      target.availability.clear(device);
      await restart(device, spec);
      log(spec.id, `device ${spec.id} restarted with its new options`);
    }
    const linked = target.setRoutes(next.routes);
    if (target.isRunning()) {
      await Promise.all(addedHosts.map((h) => h.supervisor.start()));
      await Promise.all(addedDevices.map((d) => d.supervisor.start()));
    }
    for (const host of addedHosts) log(host.id, `host ${host.id} added`);
    for (const device of addedDevices) log(device.id, `device ${device.id} added`);
    // A device newly routed to a host that was already there: that host is owed what is known.
    for (const [host, device] of linked) target.sendCurrent(device, host);
    if (routesChanged) log('routes', `routes changed (${linked.length} new device-to-host links)`);
    target.logger.info(result, `reload done: ${result.restarted.length} restarted, ${result.added.length} added, ${result.removed.length} removed, ${result.unchanged.length} unchanged`);
    return result;
  }
}
