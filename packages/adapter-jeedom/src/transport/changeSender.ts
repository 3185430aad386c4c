import { ErrorCodes, PatchbayError, type JsonValue } from '@patchbay/core';
import { ChangeTree, PATH_SEPARATOR, singleChangeJson, type ChangeMode } from '../protocol/changeTree.js';

/** One change: a `::` key or a path of segments, its value, and how it joins what is pending (default `merge`). */
export type Change = readonly [key: string | readonly string[], value: JsonValue, mode?: ChangeMode];

/** Settings of a {@link ChangeSender}. */
export interface ChangeSenderOptions {
  /** Posts one JSON body; resolves on success, rejects once its attempts are used up. */
  post(body: string): Promise<void>;
  /** The cycle in ms; 0 (or less) is immediate mode (§4.5). */
  cycleMs: number;
  /** Clock, for tests. */
  now?: () => number;
}

interface Window {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function newWindow(): Window {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Callers may ignore the outcome (the reference's add is fire-and-forget).
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * The reference's `jeedom_com` (protocols/jeedom.md §4.5) with one difference: every add
 * returns a promise that settles when the request carrying it succeeded or gave up, so the
 * adapter acknowledges events to the outbox only once Jeedom has them (§4.4 deviation).
 *
 * Cycle mode: changes merge into one pending object; a timer wakes on the cycle's phase
 * (first wake one cycle after start), posts the whole object if anything is pending and
 * resets it; changes added while a post is in flight wait for the next wake. No timer runs
 * while nothing is pending. Immediate mode: each add is posted at once as its own nested
 * object; posts go one at a time, in order (the reference's thread per post may reorder).
 */
export class ChangeSender {
  private pending = new ChangeTree();
  private window: Window | undefined;
  private timer: NodeJS.Timeout | undefined;
  private flushing = false;
  private chain: Promise<void> = Promise.resolve();
  private readonly origin: number;
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly options: ChangeSenderOptions) {
    this.now = options.now ?? Date.now;
    this.origin = this.now();
  }

  /** True in immediate mode (`cycle <= 0`). */
  get immediate(): boolean {
    return this.options.cycleMs <= 0;
  }

  /** `add_changes(key, value)`: settles when the request carrying it succeeded (or failed for good). */
  add(key: string | readonly string[], value: JsonValue): Promise<void> {
    return this.addMany([[key, value]]);
  }

  /**
   * Add several changes at once. Cycle mode: all join the pending window. Immediate mode: in
   * order, as few posts as keep every change (see {@link immediateBodies}), stopping at the
   * first that fails.
   */
  addMany(changes: readonly Change[]): Promise<void> {
    if (this.stopped) return Promise.reject(stoppedError());
    if (this.immediate) {
      const bodies = immediateBodies(changes);
      return this.enqueue(async () => {
        for (const body of bodies) await this.options.post(body);
      });
    }
    for (const change of changes) put(this.pending, change);
    this.window ??= newWindow();
    this.schedule();
    return this.window.promise;
  }

  /** `send_change_immediate(payload)`: posted at once, without waiting for the cycle (§4.5). */
  sendImmediate(tree: ChangeTree): Promise<void> {
    if (this.stopped) return Promise.reject(stoppedError());
    return this.enqueue(() => this.options.post(tree.toJson()));
  }

  /** Post `changes` at once as one body, outside the cycle and any pending window. */
  postNow(changes: readonly Change[]): Promise<void> {
    const tree = new ChangeTree();
    for (const change of changes) put(tree, change);
    return this.sendImmediate(tree);
  }

  /** Stop the timer; whatever waits for a flush is failed so its events stay queued. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const window = this.window;
    this.window = undefined;
    this.pending = new ChangeTree();
    window?.reject(stoppedError());
  }

  /** Serialise posts so they reach the callback in order. */
  private enqueue(job: () => Promise<void>): Promise<void> {
    const run = this.chain.then(job);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.flushing || this.pending.empty) return;
    // Wake on the cycle's phase, as the reference's free-running timer would, but only
    // while something is pending (no idle wake-ups, and no post while nothing is pending).
    const cycle = this.options.cycleMs;
    const elapsed = this.now() - this.origin;
    const delay = Math.max(0, (Math.floor(elapsed / cycle) + 1) * cycle - elapsed);
    this.timer = setTimeout(this.flush, delay);
  }

  private readonly flush = (): void => {
    this.timer = undefined;
    if (this.pending.empty) return;
    const tree = this.pending.take();
    const window = this.window as Window;
    this.window = undefined;
    this.flushing = true;
    this.enqueue(() => this.options.post(tree.toJson())).then(
      () => this.settle(() => window.resolve()),
      (error: unknown) => this.settle(() => window.reject(error)),
    );
  };

  private settle(outcome: () => void): void {
    this.flushing = false;
    outcome();
    if (!this.stopped) this.schedule();
  }
}

/**
 * The bodies immediate mode posts for changes handed over together (a batch the outbox had
 * queued while the previous post was out), in order. One post per change made a batch cost a
 * round trip per event, and at 10,000 values/s the queue only grew; so changes share a body,
 * and a body ends before a change that would overwrite or merge into one it already holds
 * (the same path, or one inside the other): every value still reaches Jeedom, none coalesced.
 * Appends to one list keep every entry, in order, and share a body. A lone change is the
 * reference's one-entry object (§4.5).
 */
export function immediateBodies(changes: readonly Change[]): string[] {
  if (changes.length === 1) {
    const [key, value, mode] = changes[0] as Change;
    return [singleChangeJson(key, value, mode)];
  }
  const bodies: string[] = [];
  let tree = new ChangeTree();
  const paths = new BodyPaths();
  for (const change of changes) {
    const path = pathOf(change);
    const append = change[2] === 'append';
    if (!tree.empty && paths.clashes(path, append)) {
      bodies.push(tree.toJson());
      tree = new ChangeTree();
      paths.clear();
    }
    paths.add(path, append);
    put(tree, change);
  }
  if (!tree.empty) bodies.push(tree.toJson());
  return bodies;
}

function pathOf([key, , mode]: Change): readonly string[] {
  if (typeof key !== 'string') return key;
  // A plain key with no mode replaces its top-level entry (§4.5): its path is the key alone.
  return mode === undefined && !key.includes(PATH_SEPARATOR) ? [key] : key.split(PATH_SEPARATOR);
}

/** The paths one body holds (segments joined by NUL): where a value or a list ends, and every path above one. */
class BodyPaths {
  private readonly ends = new Map<string, 'value' | 'list'>();
  private readonly above = new Set<string>();

  /** True when a change at `path` would overwrite or merge into something the body holds. */
  clashes(path: readonly string[], append: boolean): boolean {
    let at = '';
    for (let i = 0; i < path.length; i++) {
      at = i === 0 ? (path[0] as string) : `${at}\0${path[i] as string}`;
      const end = this.ends.get(at);
      if (i < path.length - 1) {
        if (end !== undefined) return true;
      } else if (this.above.has(at) || end === 'value' || (end === 'list' && !append)) {
        return true;
      }
    }
    return false;
  }

  add(path: readonly string[], append: boolean): void {
    let at = '';
    for (let i = 0; i < path.length; i++) {
      at = i === 0 ? (path[0] as string) : `${at}\0${path[i] as string}`;
      if (i < path.length - 1) this.above.add(at);
      else this.ends.set(at, append ? 'list' : 'value');
    }
  }

  clear(): void {
    this.ends.clear();
    this.above.clear();
  }
}

function put(tree: ChangeTree, [key, value, mode]: Change): void {
  if (typeof key === 'string' && mode === undefined) tree.add(key, value);
  else tree.addPath(typeof key === 'string' ? key.split(PATH_SEPARATOR) : key, value, mode);
}

function stoppedError(): PatchbayError {
  return new PatchbayError(ErrorCodes.HOST_UNREACHABLE, 'the Jeedom adapter is stopping; the changes stay queued');
}
