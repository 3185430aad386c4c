/** What the watchdog is told and tells. */
export interface StallWatchdogOptions {
  /** A delivery unsettled this long is a stall, ms. */
  timeoutMs: number;
  /** True while a delivery is in flight (the outbox knows; the watchdog only asks when it wakes). */
  inFlight(): boolean;
  /** A stall began (`true`, with how long the delivery has waited) or ended (`false`). Once per episode. */
  onStall?: ((stalled: boolean, forMs: number) => void) | undefined;
}

/**
 * One outbox's stall watchdog: a delivery handed to the adapter that makes no progress for
 * `timeoutMs` marks the host stalled until it settles (or is abandoned). Re-armed lazily, as
 * the device stale timer is: it wakes once per period at most, and only while asynchronous
 * deliveries happen, so a host that keeps up costs one `Date.now()` per delivery.
 */
export class StallWatchdog {
  /** True while a delivery has been in flight longer than `timeoutMs`. */
  stalled = false;
  /** Times the host stalled. */
  stalls = 0;
  /** When the delivery now in flight was handed over (async deliveries only). */
  private since = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: StallWatchdogOptions) {}

  /** An asynchronous delivery was just handed over. */
  started(): void {
    this.since = Date.now();
    if (this.timer === undefined) this.arm(this.options.timeoutMs);
  }

  /** The delivery in flight settled (or was abandoned): a stall, if any, is over. */
  progressed(): void {
    if (!this.stalled) return;
    this.stalled = false;
    this.options.onStall?.(false, Date.now() - this.since);
  }

  /** Nothing is delivered any more (the adapter was detached): the stall ends and the timer goes. */
  stop(): void {
    this.progressed();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(delay: number): void {
    this.timer = setTimeout(this.wake, delay);
    this.timer.unref?.();
  }

  private readonly wake = (): void => {
    this.timer = undefined;
    if (!this.options.inFlight() || this.stalled) return;
    const waited = Date.now() - this.since;
    const { timeoutMs } = this.options;
    if (waited >= timeoutMs) {
      this.stalled = true;
      this.stalls++;
      this.options.onStall?.(true, waited);
      return;
    }
    this.arm(timeoutMs - waited);
  };
}
