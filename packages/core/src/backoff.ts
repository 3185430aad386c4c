/**
 * Back-off as a policy array with jitter (after nats.js `core/src/util.ts`): the n-th retry
 * waits policy[min(n, last)] ms, spread by ±jitter so many retries do not synchronise.
 */
export interface BackoffPolicy {
  /** Delays in ms, the last one repeats. */
  delays: readonly number[];
  /** Spread as a fraction of the delay, 0..1. */
  jitter: number;
}

/** The default: quick first retries, then every 10 s. */
export const defaultBackoff: BackoffPolicy = { delays: [100, 250, 500, 1000, 2000, 5000, 10_000], jitter: 0.2 };

/** A retry counter over a policy. */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly policy: BackoffPolicy = defaultBackoff,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next retry; advances the counter. */
  next(): number {
    const { delays, jitter } = this.policy;
    const base = delays[Math.min(this.attempt, delays.length - 1)] ?? 1000;
    this.attempt++;
    return Math.max(0, Math.round(base * (1 + jitter * (2 * this.random() - 1))));
  }

  /** How many retries since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** Back to the first delay, after a success. */
  reset(): void {
    this.attempt = 0;
  }
}
