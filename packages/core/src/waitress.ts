import { ErrorCodes, PatchbayError } from './errors.js';

/**
 * The one correlation primitive (after zigbee-herdsman's waitress): wait for the answer
 * with a given key, with a timeout whose error names what was waited for. JSON-RPC ids,
 * Domogik replies and device acks all go through it.
 */
export class Waitress<Key, Value> {
  private readonly pending = new Map<Key, { resolve: (v: Value) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  /** Wait for `key`. Rejects with a `COMMAND_TIMEOUT` error naming `description` after `timeoutMs`. */
  wait(key: Key, options: { timeoutMs: number; description: string }): Promise<Value> {
    if (this.pending.has(key)) {
      return Promise.reject(new PatchbayError(ErrorCodes.INTERNAL, `already waiting for ${options.description}`, { context: { key } }));
    }
    return new Promise<Value>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        reject(
          new PatchbayError(ErrorCodes.COMMAND_TIMEOUT, `no answer to ${options.description} within ${options.timeoutMs} ms`, {
            context: { key, timeoutMs: options.timeoutMs },
          }),
        );
      }, options.timeoutMs);
      this.pending.set(key, { resolve, reject, timer });
    });
  }

  /** Deliver the answer for `key`. False when nobody waits for it (unknown or timed out). */
  resolve(key: Key, value: Value): boolean {
    const waiter = this.pending.get(key);
    if (!waiter) return false;
    this.pending.delete(key);
    clearTimeout(waiter.timer);
    waiter.resolve(value);
    return true;
  }

  /** Fail one waiter. False when nobody waits for it. */
  reject(key: Key, error: Error): boolean {
    const waiter = this.pending.get(key);
    if (!waiter) return false;
    this.pending.delete(key);
    clearTimeout(waiter.timer);
    waiter.reject(error);
    return true;
  }

  /** Fail every waiter, e.g. when the connection is lost. */
  rejectAll(error: Error): void {
    for (const [key, waiter] of this.pending) {
      this.pending.delete(key);
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }

  /** True while someone waits for `key`. */
  has(key: Key): boolean {
    return this.pending.has(key);
  }

  /** How many are waiting. */
  get size(): number {
    return this.pending.size;
  }

  /** The oldest waiting key (insertion order), for first-in first-out protocols. */
  first(): Key | undefined {
    for (const key of this.pending.keys()) return key;
    return undefined;
  }
}
