/**
 * The gateway-wide bound on unfinished client input (issue 13.7). Each listener keeps its own
 * budget (what its connections may hold of messages not yet complete) and draws the same bytes
 * on this one, shared by every listener of the gateway: a flood spread over several listeners,
 * each within its own budget, still cannot hold more than `limitBytes` together. What a
 * listener does when a take fails is its own (Jeedom and Tracim close the connection that
 * crossed it, Comodojo answers the frame with an error and closes), as for its own budget.
 */
export class InputBudget {
  private held = 0;
  private highest = 0;
  private refusals = 0;

  constructor(readonly limitBytes: number) {}

  /** Bytes drawn on the budget now, over every listener. */
  get usedBytes(): number {
    return this.held;
  }

  /** The most that was drawn at once since start. */
  get peakBytes(): number {
    return this.highest;
  }

  /** Takes that failed since start. */
  get refused(): number {
    return this.refusals;
  }

  /** Draws `bytes` when they fit; otherwise draws nothing and returns false. */
  take(bytes: number): boolean {
    if (this.held + bytes > this.limitBytes) {
      this.refusals++;
      return false;
    }
    this.held += bytes;
    if (this.held > this.highest) this.highest = this.held;
    return true;
  }

  /** Gives back what a take drew (a message completed, a connection closed). */
  give(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
  }

  /** The line a listener logs when a take fails. */
  describe(): string {
    return `the gateway-wide input budget (gateway.maxBufferedBytes ${this.limitBytes}) is spent: every listener together holds ${this.held} bytes of unfinished messages`;
  }
}

/** `gateway.maxBufferedBytes`: 256 MiB, more than the built-in listeners' own budgets add up to at their defaults. */
export const defaultInputBudgetBytes = 256 * 1024 * 1024;
