import type { HostContext, HttpMount, SubmitOptions } from './definitions.js';
import type { CommandInput, ReplyEvent } from './events.js';
import type { GatewayHealth } from './health.js';
import type { InputBudget } from './inputBudget.js';
import type { Logger } from './logger.js';
import type { MetricsSink } from './metrics.js';
import { deviceInfo, type DeviceRuntime, type HostRuntime } from './runtime.js';
import type { StateStore } from './stateStore.js';
import type { Generation } from './supervisor.js';

/** What a host's context reaches of the gateway that runs it. */
export interface HostContextDeps {
  gatewayName: string;
  http: HttpMount | undefined;
  metrics: MetricsSink;
  store: StateStore;
  devices: ReadonlyMap<string, DeviceRuntime>;
  submit(host: HostRuntime, command: CommandInput, options?: SubmitOptions): Promise<ReplyEvent>;
  health(): GatewayHealth;
  onStopRequested: ((request: { host: string; reason: string }) => void) | undefined;
  inputBudget: InputBudget;
}

/**
 * The context one generation of a host adapter gets: everything it may ask of the core, bound
 * to that host (its routed devices only) and to that generation (its signal and status).
 */
export function createHostContext(host: { runtime: HostRuntime; generation: Generation; logger: Logger }, deps: HostContextDeps): HostContext {
  const { runtime, generation, logger } = host;
  const { id } = runtime;
  return {
    id,
    gatewayName: deps.gatewayName,
    logger,
    signal: generation.signal,
    http: deps.http,
    counter: (name, help) => deps.metrics.counter(name, help, { host: id, adapter: runtime.type }),
    status: generation.status,
    fail: generation.fail,
    submit: (command, options) => deps.submit(runtime, command, options),
    snapshot: () => deps.store.snapshot(runtime.deviceIds),
    devices: () => runtime.devices.map((d) => deviceInfo(d, deps.store)),
    setPaused: (device, paused) => {
      const target = deps.devices.get(device);
      if (!target || !runtime.deviceIds.has(device)) return false;
      if (target.paused !== paused) logger.info({ device, paused }, `device ${device} ${paused ? 'paused' : 'resumed'} by host ${id}`);
      target.paused = paused;
      return true;
    },
    description: (device) => (runtime.deviceIds.has(device) ? deps.devices.get(device)?.description : undefined),
    health: deps.health,
    inputBudget: deps.inputBudget,
    requestStop: (reason) => {
      const onStop = deps.onStopRequested;
      if (!onStop) {
        logger.warn({ reason }, `host ${id} asked the gateway to stop (${reason}), but nothing that runs it takes such requests: it keeps running`);
        return;
      }
      logger.info({ reason }, `host ${id} asked the gateway to stop: ${reason}`);
      onStop({ host: id, reason });
    },
    connection: (connection) => {
      if (runtime.connection?.connected !== connection.connected) {
        const what = connection.detail ?? (connection.peers === undefined ? '' : `${connection.peers} peers`);
        logger.info({ connected: connection.connected, peers: connection.peers }, `host ${id} ${connection.connected ? 'connected' : 'not connected'}${what ? `: ${what}` : ''}`);
      }
      runtime.connection = { ...connection };
    },
  };
}
