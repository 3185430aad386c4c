import { Backoff, type BackoffPolicy, defaultBackoff } from './backoff.js';
import { describeError, ErrorCodes, isPatchbayError } from './errors.js';
import { stateKey, type OutboundEvent } from './events.js';
import type { Adapter } from './definitions.js';
import type { Histogram } from './metrics.js';
import { StallWatchdog } from './stallWatchdog.js';

/** Outbox settings. */
export interface OutboxOptions {
  /** Most replies that may wait for one host; commands beyond it are refused up front (formerly `maxQueue`). */
  maxPendingReplies: number;
  /** Most events handed to `deliverBatch` at once. */
  maxBatch: number;
  /** Retry schedule while the host is unreachable. */
  backoff: BackoffPolicy;
  /** A momentary event still undelivered this long after it happened is dropped (`onExpired`). */
  eventTtlMs: number;
  /** A delivery unsettled this long makes the host `stalled` (`onStall`) until it settles. */
  stallTimeoutMs: number;
}

export const defaultOutboxOptions: OutboxOptions = { maxPendingReplies: 10_000, maxBatch: 512, backoff: defaultBackoff, eventTtlMs: 3_600_000, stallTimeoutMs: 15_000 };

/** What an outbox tells its owner. */
export interface OutboxHooks {
  /** Everything up to `seq` has been delivered (or superseded): the journal cursor. */
  onAck(seq: number): void;
  /** The host became reachable (`true`) or not (`false`), with the error. Once per transition. */
  onReachability(reachable: boolean, error?: unknown): void;
  /** An event the host refused for good (`EVENT_REJECTED`). */
  onRejected(event: OutboundEvent, error: unknown): void;
  /** A momentary event dropped undelivered, older than `eventTtlMs`. */
  onExpired?(event: OutboundEvent): void;
  /**
   * A delivery has made no progress for `stallTimeoutMs` (`true`, with how long), or the stalled
   * delivery settled at last (`false`). Once per episode.
   */
  onStall?(stalled: boolean, forMs: number): void;
  /**
   * Each delivered event's wait, seconds: from being handed to this outbox (routed) to the
   * adapter taking it (its delivery settled). An event the idle host takes at once waits 0.
   */
  latency?: Histogram;
}

/** Sync deliveries drained per turn of the event loop before yielding, so one host cannot starve the rest. */
const DRAIN_SLICE = 4096;

/**
 * One host's outbox: a FIFO of events with their journal sequence numbers, single-flight
 * towards the adapter, retrying with back-off and jitter while the host is unreachable.
 * While events wait, state for the same device and channel is coalesced in place (latest
 * wins; the slot keeps its first sequence number so the journal cursor stays conservative),
 * and so are status events per endpoint. Replies are never coalesced.
 *
 * The queue is two parallel arrays indexed by absolute position minus `base`, so queueing
 * allocates no per-event object; when the queue is empty and the host idle, an event goes
 * straight to the adapter without touching them.
 */
export class Outbox {
  private events: (OutboundEvent | undefined)[] = [];
  private seqs: number[] = [];
  /** Coalescing key of each slot (state and status), computed once when it is queued. */
  private keys: (string | undefined)[] = [];
  /** When each slot was queued (`performance.now()`, ms); a coalesced slot keeps its first. */
  private queuedAt: number[] = [];
  /** Absolute position of `events[0]`. */
  private base = 0;
  /** Absolute position of the first undelivered slot. */
  private head = 0;
  /** Absolute position of the next free slot. */
  private tail = 0;
  /** Slots from `head` handed to the adapter and not yet settled. */
  private inFlight = 0;
  /** Queued, not in-flight state/status slots by coalescing key. */
  private readonly slotByKey = new Map<string, number>();
  private adapter: Adapter | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private reachable = true;
  private lastSeq = 0;
  private replies = 0;
  /** Replies promised to commands still waiting for their device (see {@link reserveReply}). */
  private reserved = 0;
  private draining = false;
  /** True while the fast path is inside the adapter's `deliver`: a re-entrant push must queue. */
  private delivering = false;
  /** Bumped on every detach, so a delivery of a previous attachment that settles late is ignored. */
  private attachment = 0;
  /** Head slots to hand over one at a time: a batch was refused, and only its bad events may go. */
  private isolate = 0;
  private idleWaiters: (() => void)[] = [];

  /** Counters for `/healthz` and `/metrics`. */
  delivered = 0;
  failed = 0;
  retries = 0;
  /** Momentary events dropped for their age. */
  expired = 0;
  private readonly watchdog: StallWatchdog;

  constructor(
    private readonly options: OutboxOptions,
    private readonly hooks: OutboxHooks,
  ) {
    this.backoff = new Backoff(options.backoff);
    this.watchdog = new StallWatchdog({ timeoutMs: options.stallTimeoutMs, inFlight: () => this.inFlight !== 0, onStall: (stalled, forMs) => hooks.onStall?.(stalled, forMs) });
  }

  /** True while a delivery has been in flight longer than `stallTimeoutMs`. */
  get stalled(): boolean {
    return this.watchdog.stalled;
  }

  /** Times the host stalled. */
  get stalls(): number {
    return this.watchdog.stalls;
  }

  /** Events waiting (including those in flight). */
  get queued(): number {
    return this.tail - this.head;
  }

  /** How long the oldest waiting event has waited, ms (0 when none waits). */
  get oldestQueuedMs(): number {
    return this.tail === this.head ? 0 : performance.now() - (this.queuedAt[this.head - this.base] as number);
  }

  /** False while the replies queued and promised reach `maxPendingReplies`: the host must stop asking. */
  get hasRoomForReply(): boolean {
    return this.replies + this.reserved < this.options.maxPendingReplies;
  }

  /**
   * Promise room for the reply of a command about to be sent to its device; false when there
   * is none. Every reservation is given back with {@link releaseReply} once the reply exists,
   * so concurrent commands cannot all pass the check and overfill the queue together.
   */
  reserveReply(): boolean {
    if (!this.hasRoomForReply) return false;
    this.reserved++;
    return true;
  }

  releaseReply(): void {
    if (this.reserved > 0) this.reserved--;
  }

  /** Start handing events to this adapter (after it started). */
  attach(adapter: Adapter): void {
    this.adapter = adapter;
    this.kick();
  }

  /**
   * Stop handing events over (the adapter stops or crashed); they wait. What was in flight
   * goes again to the next attachment (at least once): a delivery that never settles must
   * not hold the host forever.
   */
  detach(): void {
    this.adapter = undefined;
    this.attachment++;
    this.inFlight = 0;
    this.clearRetry();
    this.watchdog.stop();
  }

  /** Accept an event with its journal sequence number. */
  push(event: OutboundEvent, seq: number): void {
    this.lastSeq = seq;
    const adapter = this.adapter;
    // Fast path: nothing waits and the host is idle and reachable: hand it over now.
    if (this.tail === this.head && adapter !== undefined && this.retryTimer === undefined && !this.draining && !this.delivering) {
      if (adapter.deliverBatch === undefined) {
        let result: Promise<void> | void;
        // An event pushed from inside `deliver` (an adapter that submits, a driver that emits
        // at once) is queued behind this one, never delivered in the middle of it.
        this.delivering = true;
        try {
          result = adapter.deliver(event);
        } catch (error) {
          this.requeue(event, seq);
          this.settleFailure(error);
          return;
        } finally {
          this.delivering = false;
        }
        if (result === undefined) {
          this.delivered++;
          // Taken in the call that routed it: no clock read on the hot path.
          this.hooks.latency?.observe(0);
          this.hooks.onAck(this.tail === this.head ? seq : (this.seqs[this.head - this.base] as number) - 1);
          return;
        }
        this.requeue(event, seq);
        this.inFlight = 1;
        this.await(result);
        return;
      }
    }
    this.enqueue(event, seq);
    this.kick();
  }

  /** Resolves once nothing waits (or immediately). */
  whenIdle(): Promise<void> {
    if (this.tail === this.head) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Give every waiting event (in flight included) a new sequence number from `stamp`, which
   * journals it again for this host alone, then acknowledge up to the first of them: the
   * segments the old numbers pinned can go. Coalesced slots are written with their latest value.
   */
  rebase(stamp: (event: OutboundEvent) => number): void {
    if (this.tail === this.head) return;
    for (let position = this.head; position < this.tail; position++) {
      const index = position - this.base;
      this.seqs[index] = stamp(this.events[index] as OutboundEvent);
    }
    // The stamps are the newest numbers: an ack of `lastSeq` once empty must not go back before them.
    this.lastSeq = this.seqs[this.tail - 1 - this.base] as number;
    this.hooks.onAck((this.seqs[this.head - this.base] as number) - 1);
  }

  /** Drop timers; queued events stay (the journal has them). */
  close(): void {
    this.detach();
  }

  private enqueue(event: OutboundEvent, seq: number): void {
    const key = coalescingKey(event);
    if (key !== undefined) {
      const position = this.slotByKey.get(key);
      if (position !== undefined && position >= this.head + this.inFlight) {
        this.events[position - this.base] = event;
        return;
      }
      this.slotByKey.set(key, this.tail);
    } else if (event.kind === 'reply') {
      this.replies++;
    }
    this.events.push(event);
    this.seqs.push(seq);
    this.keys.push(key);
    this.queuedAt.push(performance.now());
    this.tail++;
  }

  /** Queue the event the fast path was delivering, ahead of anything pushed from inside `deliver`. */
  private requeue(event: OutboundEvent, seq: number): void {
    if (this.tail === this.head) this.enqueue(event, seq);
    else this.enqueueFront(event, seq);
  }

  /**
   * Put the event the fast path was delivering back at the head, in front of anything pushed
   * meanwhile. Absolute positions of the other slots do not move (`base` moves with it). It
   * is never a coalescing target: it is about to go (again) before anything newer.
   */
  private enqueueFront(event: OutboundEvent, seq: number): void {
    if (event.kind === 'reply') this.replies++;
    this.events.unshift(event);
    this.seqs.unshift(seq);
    this.keys.unshift(undefined);
    this.queuedAt.unshift(performance.now());
    this.base--;
    this.head--;
  }

  /** Settle an asynchronous delivery, unless the adapter it went to was detached since. */
  private await(result: Promise<void>): void {
    const attachment = this.attachment;
    this.watchdog.started();
    result.then(
      () => {
        if (attachment === this.attachment) this.onSettled();
      },
      (error: unknown) => {
        if (attachment === this.attachment) this.settleFailure(error);
      },
    );
  }

  private kick(): void {
    if (!this.draining && this.inFlight === 0 && this.retryTimer === undefined && this.adapter !== undefined && this.tail > this.head) {
      this.draining = true;
      queueMicrotask(this.drain);
    }
  }

  private readonly drain = (): void => {
    this.draining = false;
    let budget = DRAIN_SLICE;
    while (this.inFlight === 0 && this.retryTimer === undefined && this.tail > this.head) {
      const adapter = this.adapter;
      if (adapter === undefined) return;
      if (budget-- <= 0) {
        this.draining = true;
        setImmediate(this.drain);
        return;
      }
      if (this.dropExpiredHead()) continue;
      const index = this.head - this.base;
      const batch = adapter.deliverBatch !== undefined && this.isolate === 0;
      const count = batch ? this.batchLength(index) : 1;
      // In flight before the adapter runs: a push from inside it must neither coalesce into
      // these slots nor start a delivery of its own.
      this.inFlight = count;
      let result: Promise<void> | void;
      try {
        result = batch ? (adapter.deliverBatch as NonNullable<Adapter['deliverBatch']>)(this.events.slice(index, index + count) as OutboundEvent[]) : adapter.deliver(this.events[index] as OutboundEvent);
      } catch (error) {
        this.settleFailure(error);
        return;
      }
      if (result !== undefined) {
        this.await(result);
        return;
      }
      this.settleSuccess();
    }
  };

  /**
   * Momentary events wait in order and are never coalesced, so a host away for long would get
   * hours-old presses: past their time to live they go, counted. True if the head was dropped.
   */
  private dropExpiredHead(): boolean {
    const event = this.events[this.head - this.base] as OutboundEvent;
    if (event.kind !== 'momentary' || Date.now() - event.time <= this.options.eventTtlMs) return false;
    this.expired++;
    this.hooks.onExpired?.(event);
    this.popHead(1);
    return true;
  }

  /** How many head slots go in one batch: up to `maxBatch`, stopping short of an expired momentary event. */
  private batchLength(index: number): number {
    const count = Math.min(this.options.maxBatch, this.tail - this.head);
    const oldest = Date.now() - this.options.eventTtlMs;
    for (let i = 1; i < count; i++) {
      const event = this.events[index + i] as OutboundEvent;
      if (event.kind === 'momentary' && event.time < oldest) return i;
    }
    return count;
  }

  private readonly onSettled = (): void => {
    this.watchdog.progressed();
    this.settleSuccess();
    this.kick();
  };

  private settleSuccess(): void {
    const count = this.inFlight;
    this.inFlight = 0;
    if (this.isolate > 0) this.isolate -= count;
    this.delivered += count;
    const latency = this.hooks.latency;
    if (latency !== undefined) {
      const now = performance.now();
      const first = this.head - this.base;
      for (let i = 0; i < count; i++) latency.observe((now - (this.queuedAt[first + i] as number)) / 1000);
    }
    this.popHead(count);
    if (!this.reachable) {
      this.reachable = true;
      this.backoff.reset();
      this.hooks.onReachability(true);
    }
  }

  private readonly settleFailure = (error: unknown): void => {
    this.watchdog.progressed();
    const count = this.inFlight === 0 ? 1 : this.inFlight;
    this.inFlight = 0;
    if (isPatchbayError(error, ErrorCodes.EVENT_REJECTED)) {
      if (count > 1) {
        // A batch is refused whole for what may be one event in it: retry its events one by
        // one, so only those the host refuses on their own are dropped.
        this.isolate = count;
        this.kick();
        return;
      }
      if (this.isolate > 0) this.isolate--;
      // The host will never take it: count it and move on rather than block the queue.
      for (let i = 0; i < count; i++) this.hooks.onRejected(this.events[this.head - this.base + i] as OutboundEvent, error);
      this.failed += count;
      this.popHead(count);
      this.kick();
      return;
    }
    this.retries++;
    if (this.reachable) {
      this.reachable = false;
      this.hooks.onReachability(false, error);
    }
    if (this.adapter === undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, this.backoff.next());
    this.retryTimer.unref?.();
  };

  private popHead(count: number): void {
    for (let i = 0; i < count; i++) {
      const index = this.head - this.base;
      const key = this.keys[index];
      if (key !== undefined) {
        if (this.slotByKey.get(key) === this.head) this.slotByKey.delete(key);
      } else if ((this.events[index] as OutboundEvent).kind === 'reply') {
        this.replies--;
      }
      this.events[index] = undefined;
      this.keys[index] = undefined;
      this.head++;
    }
    if (this.head === this.tail) {
      // Empty: reset the arrays in place rather than reallocate.
      this.events.length = 0;
      this.seqs.length = 0;
      this.keys.length = 0;
      this.queuedAt.length = 0;
      this.base = this.head;
      this.hooks.onAck(this.lastSeq);
      const waiters = this.idleWaiters;
      if (waiters.length > 0) {
        this.idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
    } else {
      if (this.head - this.base > 1024 && this.head - this.base > this.events.length >> 1) {
        const drop = this.head - this.base;
        this.events.splice(0, drop);
        this.seqs.splice(0, drop);
        this.keys.splice(0, drop);
        this.queuedAt.splice(0, drop);
        this.base = this.head;
      }
      this.hooks.onAck((this.seqs[this.head - this.base] as number) - 1);
    }
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
  }

  /** Describe why the host is unreachable, for logs. */
  static reason(error: unknown): string {
    return `delivery failing: ${describeError(error)}`;
  }
}

/**
 * State coalesces per device and channel; status per endpoint; descriptions and availability
 * per device (the latest is what the host needs). Replies and momentary events never.
 */
function coalescingKey(event: OutboundEvent): string | undefined {
  // The router hands one event to each of its hosts' outboxes in turn: its key is built (and
  // hashed, as a Map key) once, not once per host. Routed events are not changed afterwards.
  if (event === lastKeyed) return lastKey;
  lastKey = keyOf(event);
  lastKeyed = event;
  return lastKey;
}

let lastKeyed: OutboundEvent | undefined;
let lastKey: string | undefined;

function keyOf(event: OutboundEvent): string | undefined {
  switch (event.kind) {
    case 'state':
      return stateKey(event.device, event.channel);
    case 'status':
      return 'status\u0000' + event.endpoint;
    case 'description':
      return 'description\u0000' + event.device;
    case 'availability':
      return 'availability\u0000' + event.device;
    default:
      return undefined;
  }
}
