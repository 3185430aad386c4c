import type { AvailabilityTracker } from './availability.js';
import type { DriverContext } from './definitions.js';
import type { DeviceIntake } from './deviceIntake.js';
import type { JsonValue, Meta } from './events.js';
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
 * (a driver that failed or was stopped) no longer speaks for the device. `status` and `fail`
 * are the generation's own; the other five are each bound the first time a driver asks for
 * it: most drivers use two or three, and five closures made up front were a quarter of what
 * the core keeps per device (issue 20).
 */
export class DeviceDriverContext implements DriverContext {
  readonly id: string;
  readonly gatewayName: string;
  readonly logger: Logger;
  private readonly generation: Generation;
  private readonly runtime: DeviceRuntime;
  private readonly deps: DriverContextDeps;
  private boundEmit: DriverContext['emit'] | undefined;
  private boundMomentary: DriverContext['momentary'] | undefined;
  private boundDescribe: DriverContext['describe'] | undefined;
  private boundAvailability: DriverContext['availability'] | undefined;
  private boundCounter: DriverContext['counter'] | undefined;

  constructor(device: { runtime: DeviceRuntime; generation: Generation; logger: Logger }, deps: DriverContextDeps) {
    this.logger = device.logger;
    this.generation = device.generation;
    this.runtime = device.runtime;
    this.deps = deps;
    this.id = device.runtime.id;
    this.gatewayName = deps.gatewayName;
  }

  get status(): DriverContext['status'] {
    return this.generation.status;
  }

  get fail(): DriverContext['fail'] {
    return this.generation.fail;
  }

  get emit(): DriverContext['emit'] {
    return (this.boundEmit ??= this.emitState.bind(this));
  }

  get momentary(): DriverContext['momentary'] {
    return (this.boundMomentary ??= this.emitMomentary.bind(this));
  }

  get describe(): DriverContext['describe'] {
    return (this.boundDescribe ??= this.describeDevice.bind(this));
  }

  get availability(): DriverContext['availability'] {
    return (this.boundAvailability ??= this.reportAvailability.bind(this));
  }

  get counter(): DriverContext['counter'] {
    return (this.boundCounter ??= this.deviceCounter.bind(this));
  }

  get signal(): AbortSignal {
    return this.generation.signal;
  }

  // The event is built here, before its checks, so the hot path hands on the one object it
  // routes (a refused value costs an event id, and refusals are rare).
  private emitState(channel: string, value: JsonValue, meta?: Meta): void {
    if (this.generation.aborted) return;
    const now = Date.now();
    const { id } = this;
    this.deps.intake.state(this.runtime, { kind: 'state', id: newEventId(now), time: now, origin: id, device: id, channel, value, meta });
  }

  private emitMomentary(channel: string, value?: JsonValue, meta?: Meta): void {
    if (this.generation.aborted) return;
    const now = Date.now();
    const { id } = this;
    this.deps.intake.momentary(this.runtime, { kind: 'momentary', id: newEventId(now), time: now, origin: id, device: id, channel, value, meta });
  }

  private describeDevice(description: unknown): void {
    if (!this.generation.aborted) this.deps.intake.describe(this.runtime, description);
  }

  private reportAvailability(availability: 'online' | 'offline', reason?: string): void {
    if (this.generation.aborted) return;
    this.runtime.reportedOffline = availability === 'offline' ? (reason ?? 'the device does not answer') : undefined;
    this.deps.availability.update(this.runtime);
  }

  private deviceCounter(name: string, help: string): Counter {
    return this.deps.metrics.counter(name, help, { device: this.id, driver: this.runtime.type });
  }
}
