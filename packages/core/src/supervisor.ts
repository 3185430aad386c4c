import { Backoff, type BackoffPolicy } from './backoff.js';
import { describeError, ErrorCodes, PatchbayError } from './errors.js';
import type { EndpointStatus } from './events.js';
import type { Logger } from './logger.js';

/** Restart policy for failing endpoints. */
export interface RestartPolicy {
  backoff: BackoffPolicy;
  /** More failures than this within `windowMs` is a crash loop: the endpoint is declared dead. */
  maxRestarts: number;
  windowMs: number;
}

export const defaultRestartPolicy: RestartPolicy = {
  backoff: { delays: [200, 500, 1000, 2000, 5000, 10_000, 30_000], jitter: 0.2 },
  maxRestarts: 5,
  windowMs: 60_000,
};

/** Something with a lifecycle. */
export interface Lifecycle {
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

/** Handles a supervised generation gets: report status or failure, scoped to that generation. */
export interface Generation {
  /** Aborted when this generation is torn down. */
  readonly signal: AbortSignal;
  /** `signal.aborted`, without making the signal: a hot path's check costs no AbortController. */
  readonly aborted: boolean;
  status(status: EndpointStatus, reason?: string): void;
  fail(error: unknown): void;
}

/** What the supervisor needs to know about one endpoint. */
export interface SupervisorOptions<T extends Lifecycle> {
  /** `device thermo1`, `host jeedom`: for messages. */
  label: string;
  logger: Logger;
  policy: RestartPolicy;
  /** Make a fresh instance for one run (called again on every restart). */
  create(generation: Generation): T;
  onStarted(instance: T): void;
  onStopping(instance: T): void;
  /** Every status transition, once. */
  onStatus(status: EndpointStatus, reason: string | undefined): void;
}

/**
 * Runs one endpoint: starts it, restarts it with back-off when it fails (at start or later),
 * declares a crash loop dead, and logs one line per status transition.
 */
export class Supervisor<T extends Lifecycle> {
  private instance: T | undefined;
  private current: GenerationHandle | undefined;
  private generation = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly failures: number[] = [];
  private readonly backoff: Backoff;
  private stopping = false;
  private running: Promise<void> | undefined;
  status: EndpointStatus = 'stopped';
  reason: string | undefined;
  restarts = 0;

  constructor(private readonly options: SupervisorOptions<T>) {
    this.backoff = new Backoff(options.policy.backoff);
  }

  /** Start; resolves after the first attempt, whether it succeeded or a restart was scheduled. */
  async start(): Promise<void> {
    this.stopping = false;
    this.failures.length = 0;
    this.backoff.reset();
    await this.run();
  }

  /** Stop and undo everything; no restart after this. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.running?.catch(() => undefined);
    await this.teardown();
    this.transition('stopped', undefined);
  }

  /** Record a status reported by the endpoint itself (ignored once stopping). */
  report(status: EndpointStatus, reason: string | undefined): void {
    if (!this.stopping) this.transition(status, reason);
  }

  private run(): Promise<void> {
    const generation = ++this.generation;
    const handle = new GenerationHandle(this, generation);
    this.current = handle;
    this.transition('starting', this.restarts > 0 ? `restart ${this.restarts}` : undefined);
    this.running = (async () => {
      let instance: T;
      try {
        instance = this.options.create(handle);
        this.instance = instance;
        await instance.start();
      } catch (error) {
        if (generation === this.generation && !this.stopping) await this.failed(error);
        return;
      }
      if (generation !== this.generation || this.stopping) return;
      this.options.onStarted(instance);
      // The endpoint may already have said it is something else (a port not yet there).
      if (this.status === 'starting' && !handle.holdsStarting) this.transition('alive', undefined);
    })();
    return this.running;
  }

  /** A generation's own `status`: ignored once a newer generation runs. */
  generationStatus(handle: GenerationHandle, status: EndpointStatus, reason: string | undefined): void {
    if (handle.generation !== this.generation) return;
    handle.holdsStarting = status === 'starting';
    this.report(status, reason);
  }

  /** A generation's own `fail`: ignored once a newer generation runs, or while stopping. */
  generationFailed(handle: GenerationHandle, error: unknown): void {
    if (handle.generation === this.generation && !this.stopping) void this.failed(error);
  }

  private async failed(error: unknown): Promise<void> {
    const now = Date.now();
    this.failures.push(now);
    while (this.failures.length > 0 && (this.failures[0] as number) < now - this.options.policy.windowMs) this.failures.shift();
    // The first failure after a healthy spell starts the back-off again from its shortest delay.
    if (this.failures.length === 1) this.backoff.reset();
    this.generation++;
    await this.teardown();
    if (this.stopping) return;
    if (this.failures.length > this.options.policy.maxRestarts) {
      const crash = new PatchbayError(
        ErrorCodes.CRASH_LOOP,
        `${this.options.label} failed ${this.failures.length} times within ${this.options.policy.windowMs} ms; not restarting it (last error: ${describeError(error)})`,
        { cause: error },
      );
      // The transition's own log line carries the explanation: one line, at error level.
      this.transition('dead', crash.message);
      return;
    }
    const delay = this.backoff.next();
    this.options.logger.warn(
      { err: error, restartInMs: delay, attempt: this.failures.length },
      `${this.options.label} failed: ${describeError(error)}; restarting in ${delay} ms`,
    );
    this.transition('unknown', `failed: ${describeError(error)}`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restarts++;
      void this.run();
    }, delay);
  }

  private async teardown(): Promise<void> {
    const instance = this.instance;
    this.instance = undefined;
    this.current?.abort();
    if (!instance) return;
    this.options.onStopping(instance);
    try {
      await instance.stop();
    } catch (error) {
      this.options.logger.warn({ err: error }, `${this.options.label} did not stop cleanly: ${describeError(error)}`);
    }
  }

  private transition(status: EndpointStatus, reason: string | undefined): void {
    if (status === this.status && reason === this.reason) return;
    const previous = this.status;
    this.status = status;
    this.reason = reason;
    if (status !== previous) {
      const level = status === 'dead' ? 'error' : status === 'unknown' ? 'warn' : 'info';
      this.options.logger[level]({ status, previous, reason }, `${this.options.label} is ${status}${reason ? ` (${reason})` : ''}`);
    }
    this.options.onStatus(status, reason);
  }
}

/**
 * The {@link Generation} one run of an endpoint gets. Its abort signal is made when first asked
 * for: most endpoints never read it (10,000 sim devices at start-up made as many
 * AbortControllers, and a DOMException each at stop). One asked for after the abort comes
 * aborted, as it would have been. A class, not an object literal with getters, which V8 keeps
 * as a dictionary (about 450 bytes more per device); `status` and `fail` stay bound functions,
 * because endpoints hand them on (the driver context does).
 */
class GenerationHandle implements Generation {
  aborted = false;
  /** The endpoint said `starting` itself (a bus joined, a mapping still loading), so start() returning does not make it alive. */
  holdsStarting = false;
  private controller: AbortController | undefined;
  readonly status: (status: EndpointStatus, reason?: string) => void;
  readonly fail: (error: unknown) => void;

  constructor(
    supervisor: { generationStatus(handle: GenerationHandle, status: EndpointStatus, reason: string | undefined): void; generationFailed(handle: GenerationHandle, error: unknown): void },
    readonly generation: number,
  ) {
    this.status = (status, reason) => supervisor.generationStatus(this, status, reason);
    this.fail = (error) => supervisor.generationFailed(this, error);
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort();
    }
    return this.controller.signal;
  }

  abort(): void {
    this.aborted = true;
    this.controller?.abort();
  }
}
