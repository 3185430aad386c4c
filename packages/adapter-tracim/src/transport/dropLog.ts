/**
 * The log lines for what one destination drops: the first drop of an episode at once, then at
 * most one line per `everyMs` with how many more went and the last reason, for as long as the
 * drops go on. A client that takes one connection per message falls behind 10,000 values/s by
 * thousands a second (bench/scale, N = 10,000): a line for each was most of the log and a few
 * per cent of the CPU. The drop counter still counts every one.
 */
export class DropLog {
  private pending = 0;
  private lastReason = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly write: (line: string) => void,
    private readonly everyMs = DROP_LOG_EVERY_MS,
  ) {}

  dropped(count: number, reason: string): void {
    if (this.timer === undefined) {
      this.write(count === 1 ? reason : `${count} messages: ${reason}`);
      this.arm();
      return;
    }
    this.pending += count;
    this.lastReason = reason;
  }

  /** Writes what is still untold (the destination is going away). */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.tell();
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // Still dropping: keep to one line an interval; quiet: the next drop starts an episode.
      if (this.tell()) this.arm();
    }, this.everyMs);
    this.timer.unref();
  }

  private tell(): boolean {
    if (this.pending === 0) return false;
    const seconds = Math.round(this.everyMs / 1000);
    this.write(`${this.pending} more dropped in the last ${seconds} s (the last: ${this.lastReason})`);
    this.pending = 0;
    return true;
  }
}

/** One summary line at most every 10 s per destination. */
export const DROP_LOG_EVERY_MS = 10_000;
