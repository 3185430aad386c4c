import type { AvailabilityTracker } from './availability.js';
import { assertInstance, type Driver } from './definitions.js';
import { DeviceDriverContext, type DriverContextDeps } from './driverContext.js';
import type { EndpointStatus } from './events.js';
import type { EventRouter } from './eventRouter.js';
import type { Logger } from './logger.js';
import type { DeviceRuntime } from './runtime.js';
import type { StateStore } from './stateStore.js';
import type { Generation, RestartPolicy, SupervisorOptions } from './supervisor.js';

/** What every device's supervision reaches of the gateway: one object, shared by all of them. */
export interface DeviceSupervisionDeps {
  store: StateStore;
  router: EventRouter;
  availability: AvailabilityTracker;
  driverContext: DriverContextDeps;
  policy: RestartPolicy;
}

/**
 * What one device's supervisor calls: a class, so that its hooks are methods every device
 * shares, where an object of four closures, their context and the label built up front came to
 * about 400 bytes a device at 10,000 devices (issue 20). The label is made when a line is logged.
 */
export class DeviceSupervision implements SupervisorOptions<Driver> {
  readonly policy: RestartPolicy;

  constructor(
    private readonly runtime: DeviceRuntime,
    readonly logger: Logger,
    private readonly deps: DeviceSupervisionDeps,
  ) {
    this.policy = deps.policy;
  }

  get label(): string {
    return `device ${this.runtime.id} (${this.runtime.type})`;
  }

  create(generation: Generation): Driver {
    // Read at each start: a reload swaps the spec and config, and restarts.
    const { runtime } = this;
    const { definition } = runtime.spec;
    const driver = definition.create(runtime.config, new DeviceDriverContext({ runtime, generation, logger: this.logger }, this.deps.driverContext));
    assertInstance(driver, { kind: 'driver', type: definition.type });
    return driver;
  }

  onStarted(driver: Driver): void {
    this.runtime.driver = driver;
  }

  onStopping(): void {
    this.runtime.driver = undefined;
  }

  onStatus(status: EndpointStatus, reason: string | undefined): void {
    const { runtime, deps } = this;
    deps.store.setStatus(runtime.id, status);
    deps.router.status(runtime.id, { status, reason }, runtime.hosts);
    deps.availability.update(runtime);
  }
}
