/**
 * Event-driven waiting for tests: `waitUntil` re-checks a condition each time `notify()` is
 * called (never on a timer), and fails with a message naming what it waited for.
 */
export class Signal {
  private waiters = new Set<() => void>();

  /** Wake every waiter so it re-checks its condition. */
  notify(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves with the condition's first non-undefined result; rejects after `timeoutMs`. */
  waitUntil<T>(condition: () => T | undefined, options: { timeoutMs?: number; what: string }): Promise<T> {
    const first = condition();
    if (first !== undefined) return Promise.resolve(first);
    // Only a backstop: a wait ends on its event. Generous, as a loaded 2-core machine (a bench beside the
    // suite) can take seconds to schedule what an idle one does in milliseconds.
    const timeoutMs = options.timeoutMs ?? 15_000;
    return new Promise<T>((resolve, reject) => {
      const wake = () => {
        let result: T | undefined;
        try {
          result = condition();
        } catch (error) {
          cleanup();
          reject(error as Error);
          return;
        }
        if (result !== undefined) {
          cleanup();
          resolve(result);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${options.what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
      };
      this.waiters.add(wake);
    });
  }
}
