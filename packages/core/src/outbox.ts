import { Backoff, type BackoffPolicy, defaultBackoff } from './backoff.js';
import { describeError, ErrorCodes, isPatchbayError } from './errors.js';
import { stateKey, type OutboundEvent } from './events.js';
import type { Adapter } from './definitions.js';

/** Outbox settings. */
export interface OutboxOptions {
  /** Most replies that may wait for one host; commands beyond it are refused up front. */
  maxQueue: number;
  /** Most events handed to `deliverBatch` at once. */
  maxBatch: number;
  /** Retry schedule while the host is unreachable. */
  backoff: BackoffPolicy;
}

export const defaultOutboxOptions: OutboxOptions = { maxQueue: 10_000, maxBatch: 512, backoff: defaultBackoff };

/** What an outbox tells its owner. */
export interface OutboxHooks {
  /** Everything up to `seq` has been delivered (or superseded): the journal cursor. */
  onAck(seq: number): void;
  /** The host became reachable (`true`) or not (`false`), with the error. Once per transition. */
  onReachability(reachable: boolean, error?: unknown): void;
  /** An event the host refused for good (`EVENT_REJECTED`). */
  onRejected(event: OutboundEvent, error: unknown): void;
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
  private draining = false;
  private idleWaiters: (() => void)[] = [];

  /** Counters for `/healthz` and `/metrics`. */
  delivered = 0;
  failed = 0;
  retries = 0;

  constructor(
    private readonly options: OutboxOptions,
    private readonly hooks: OutboxHooks,
  ) {
    this.backoff = new Backoff(options.backoff);
  }

  /** Events waiting (including those in flight). */
  get queued(): number {
    return this.tail - this.head;
  }

  /** False while the queue holds as many replies as `maxQueue`: the host must stop asking. */
  get hasRoomForReply(): boolean {
    return this.replies < this.options.maxQueue;
  }

  /** Start handing events to this adapter (after it started). */
  attach(adapter: Adapter): void {
    this.adapter = adapter;
    this.kick();
  }

  /** Stop handing events over (the adapter stops or crashed); they wait. */
  detach(): void {
    this.adapter = undefined;
    this.clearRetry();
  }

  /** Accept an event with its journal sequence number. */
  push(event: OutboundEvent, seq: number): void {
    this.lastSeq = seq;
    const adapter = this.adapter;
    // Fast path: nothing waits and the host is idle and reachable: hand it over now.
    if (this.tail === this.head && adapter !== undefined && this.retryTimer === undefined && !this.draining) {
      if (adapter.deliverBatch === undefined) {
        let result: Promise<void> | void;
        try {
          result = adapter.deliver(event);
        } catch (error) {
          this.enqueue(event, seq);
          this.settleFailure(error);
          return;
        }
        if (result === undefined) {
          this.delivered++;
          this.hooks.onAck(seq);
          return;
        }
        this.enqueue(event, seq);
        this.inFlight = 1;
        result.then(this.onSettled, this.settleFailure);
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

  /** Drop timers; queued events stay (the journal has them). */
  close(): void {
    this.detach();
  }

  private enqueue(event: OutboundEvent, seq: number): void {
    const key = event.kind === 'state' ? stateKey(event.device, event.channel) : event.kind === 'status' ? 'status\u0000' + event.endpoint : undefined;
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
    this.tail++;
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
      const index = this.head - this.base;
      let count = 1;
      let result: Promise<void> | void;
      try {
        if (adapter.deliverBatch !== undefined) {
          count = Math.min(this.options.maxBatch, this.tail - this.head);
          result = adapter.deliverBatch(this.events.slice(index, index + count) as OutboundEvent[]);
        } else {
          result = adapter.deliver(this.events[index] as OutboundEvent);
        }
      } catch (error) {
        this.inFlight = count;
        this.settleFailure(error);
        return;
      }
      this.inFlight = count;
      if (result !== undefined) {
        result.then(this.onSettled, this.settleFailure);
        return;
      }
      this.settleSuccess();
    }
  };

  private readonly onSettled = (): void => {
    this.settleSuccess();
    this.kick();
  };

  private settleSuccess(): void {
    const count = this.inFlight;
    this.inFlight = 0;
    this.delivered += count;
    this.popHead(count);
    if (!this.reachable) {
      this.reachable = true;
      this.backoff.reset();
      this.hooks.onReachability(true);
    }
  }

  private readonly settleFailure = (error: unknown): void => {
    const count = this.inFlight === 0 ? 1 : this.inFlight;
    this.inFlight = 0;
    if (isPatchbayError(error, ErrorCodes.EVENT_REJECTED)) {
      // The host will never take these: count them and move on rather than block the queue.
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
      const event = this.events[index] as OutboundEvent;
      if (event.kind === 'state') {
        const key = stateKey(event.device, event.channel);
        if (this.slotByKey.get(key) === this.head) this.slotByKey.delete(key);
      } else if (event.kind === 'status') {
        const key = 'status\u0000' + event.endpoint;
        if (this.slotByKey.get(key) === this.head) this.slotByKey.delete(key);
      } else {
        this.replies--;
      }
      this.events[index] = undefined;
      this.head++;
    }
    if (this.head === this.tail) {
      // Empty: reset the arrays in place rather than reallocate.
      this.events.length = 0;
      this.seqs.length = 0;
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
