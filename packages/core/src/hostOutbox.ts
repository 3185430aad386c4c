import { describeError } from './errors.js';
import type { Journal } from './journal.js';
import type { Logger } from './logger.js';
import type { Counter, Histogram } from './metrics.js';
import { Outbox, type OutboxHooks } from './outbox.js';
import type { HostRuntime } from './runtime.js';

/** What a host's outbox reports into, beside the host's own runtime. */
export interface HostOutboxDeps {
  journal: Journal | undefined;
  eventTtlMs: number;
  stalls: Counter;
  expired: Counter;
  latency: Histogram | undefined;
  /** The host's status changed as the others see it (reachable, stalled). */
  statusChanged(): void;
}

/**
 * How one host's outbox events become its health and log lines: reachability (a host still
 * starting is not an outage: info, no stack), stalls, expired momentary events (logged once
 * per episode) and the journal cursor.
 */
export function hostOutboxHooks(runtime: HostRuntime, logger: Logger, deps: HostOutboxDeps): OutboxHooks {
  const { id } = runtime;
  return {
    latency: deps.latency,
    onAck: (seq) => deps.journal?.ack(id, seq),
    onReachability: (reachable, error) => {
      runtime.reachable = reachable;
      runtime.unreachableReason = reachable ? undefined : Outbox.reason(error);
      if (reachable) {
        runtime.lastSeen = Date.now();
        logger.info(`host ${id} is ${runtime.waitedForStart ? 'ready' : 'reachable again'}; delivering ${runtime.outbox.queued} queued events`);
        runtime.waitedForStart = false;
      } else if (runtime.supervisor.status === 'starting') {
        // A host still starting (a bus it is joining) is not failing: no warning, no stack.
        runtime.expiredLogged = false;
        runtime.waitedForStart = true;
        logger.info(`host ${id} is not ready yet (${describeError(error)}); queueing until it is`);
      } else {
        runtime.expiredLogged = false;
        logger.warn({ err: error }, `host ${id} is unreachable (${describeError(error)}); queueing and retrying with back-off`);
      }
      deps.statusChanged();
    },
    onRejected: (event, error) => {
      logger.error({ err: error, eventId: event.id, kind: event.kind }, `host ${id} rejected event ${event.id}: ${describeError(error)}; dropped`);
    },
    onStall: (stalled, forMs) => {
      if (stalled) {
        deps.stalls.inc();
        logger.warn({ host: id, forMs, queued: runtime.outbox.queued }, `host ${id} is stalled: a delivery has made no progress for ${forMs} ms (${runtime.outbox.queued} events waiting); it stays queued`);
      } else {
        logger.info({ host: id, forMs }, `host ${id} is moving again after ${forMs} ms`);
      }
      deps.statusChanged();
    },
    onExpired: (event) => {
      deps.expired.inc();
      // Once per host per episode: an outage can expire thousands of presses.
      if (runtime.expiredLogged) return;
      runtime.expiredLogged = true;
      logger.warn(
        { host: id, device: (event as { device?: string }).device, ttlMs: deps.eventTtlMs },
        `host ${id}: dropping momentary events older than ${deps.eventTtlMs} ms that it never received (counted in /metrics; logged once until it catches up)`,
      );
    },
  };
}
