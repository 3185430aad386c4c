import type { AvailabilityTracker } from './availability.js';
import type { DriverContext } from './definitions.js';
import type { DeviceIntake } from './deviceIntake.js';
import type { EndpointStatus, JsonValue, Meta } from './events.js';
import { newEventId } from './events.js';
import type { Logger } from './logger.js';
import type { Counter, MetricsSink } from './metrics.js';
import type { DeviceRuntime } from './runtime.js';
import type { Generation } from './supervisor.js';

/** What every device's context reaches of the gateway: one object, shared by all of them. */
export interface DriverContextDeps {
  gatewayName: string;
  metrics: MetricsSink;
  intake: DeviceIntake;
  availability: AvailabilityTracker;
}

/**
 * The context one generation of a device driver gets. A class rather than an object literal:
 * a literal with a getter (`signal`, made lazily) is a dictionary in V8, which cost about 1 KB
 * per device at 10,000 devices (issue 20). The reporting functions are bound, because drivers
 * hand them on and destructure the context (`const { emit } = ctx`); a torn-down generation
 * (a driver that failed or was stopped) no longer speaks for the device.
 */
export class DeviceDriverContext implements DriverContext {
  readonly id: string;
  readonly gatewayName: string;
  readonly status: (status: EndpointStatus, reason?: string) => void;
  readonly fail: (error: unknown) => void;
  readonly emit: (channel: string, value: JsonValue, meta?: Meta) => void;
  readonly momentary: (channel: string, value?: JsonValue, meta?: Meta) => void;
  readonly describe: (description: unknown) => void;
  readonly availability: (availability: 'online' | 'offline', reason?: string) => void;
  readonly counter: (name: string, help: string) => Counter;

  readonly logger: Logger;
  private readonly generation: Generation;

  constructor(device: { runtime: DeviceRuntime; generation: Generation; logger: Logger }, deps: DriverContextDeps) {
    const { runtime, generation } = device;
    const { id } = runtime;
    this.logger = device.logger;
    this.generation = generation;
    this.id = id;
    this.gatewayName = deps.gatewayName;
    this.status = generation.status;
    this.fail = generation.fail;
    // The event is built here, before its checks, so the hot path hands on the one object it
    // routes (a refused value costs an event id, and refusals are rare).
    this.emit = (channel, value, meta) => {
      if (generation.aborted) return;
      const now = Date.now();
      deps.intake.state(runtime, { kind: 'state', id: newEventId(now), time: now, origin: id, device: id, channel, value, meta });
    };
    this.momentary = (channel, value, meta) => {
      if (generation.aborted) return;
      const now = Date.now();
      deps.intake.momentary(runtime, { kind: 'momentary', id: newEventId(now), time: now, origin: id, device: id, channel, value, meta });
    };
    this.describe = (description) => {
      if (!generation.aborted) deps.intake.describe(runtime, description);
    };
    this.availability = (availability, reason) => {
      if (generation.aborted) return;
      runtime.reportedOffline = availability === 'offline' ? (reason ?? 'the device does not answer') : undefined;
      deps.availability.update(runtime);
    };
    this.counter = (name, help) => deps.metrics.counter(name, help, { device: id, driver: runtime.type });
  }

  get signal(): AbortSignal {
    return this.generation.signal;
  }
}
