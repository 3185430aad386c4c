import { connect, type Socket } from 'node:net';

/** One message waiting for a destination. */
export interface Outgoing {
  bytes: Buffer;
  /** Wire type, for logs. */
  type: string;
  /** Device+channel for state TLMs: coalesced while the destination is unreachable. */
  key?: string;
  /** Dropped by coalescing or by the bound; skipped when reached. */
  dropped?: boolean;
}

/** What a destination reports to the master. */
export interface DestinationHooks {
  /** Keep undeliverable messages and retry (registered clients), or drop them (anyone else). */
  keepOnFailure(path: string): boolean;
  /** Once per transition between reachable and not. */
  onReachability(path: string, reachable: boolean, reason?: string): void;
  /** Messages given up (bound reached, refused destination, failed after connecting). */
  onDropped(path: string, count: number, reason: string): void;
  /** Nothing is queued or in flight any more. */
  onIdle(path: string): void;
}

/** Timing of a destination. */
export interface DestinationOptions {
  sendTimeoutMs: number;
  maxQueue: number;
}

// §10: retry EAGAIN (a backlog-1 listener that is busy, §2.6) quickly; a refused or missing
// socket of a registered client more slowly, until the keep-alive sweep removes it.
const busyDelays = [50, 100, 200, 400, 800];
const downDelays = [100, 250, 500, 1000, 2000];

/**
 * One destination socket path with its own FIFO and at most one connection in flight
 * (protocols/tracim.md §2.6, K6): the Python SDK listens with backlog 1 and handles one
 * connection at a time, so a second concurrent connect would fail with EAGAIN and be lost.
 * A slow or dead destination only ever delays itself.
 */
export class Destination {
  private items: Outgoing[] = [];
  private head = 0;
  private live = 0;
  private readonly byKey = new Map<string, Outgoing>();
  private socket: Socket | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempts = 0;
  private unreachable = false;
  private closed = false;
  /** Messages handed to the peer. */
  sent = 0;

  constructor(
    readonly path: string,
    private readonly options: DestinationOptions,
    private readonly hooks: DestinationHooks,
  ) {}

  /** Messages waiting, the one in flight included. */
  get size(): number {
    return this.live;
  }

  /** True while nothing waits and nothing is in flight. */
  get idle(): boolean {
    return this.live === 0 && this.socket === undefined;
  }

  /** Queue a message; `urgent` ones (pings) go before everything not yet in flight. */
  push(item: Outgoing, urgent = false): void {
    if (this.closed) return;
    if (item.key !== undefined && this.unreachable) {
      // Latest value wins per device+channel while the client cannot be reached (ARCHITECTURE.md, Delivery).
      const previous = this.byKey.get(item.key);
      if (previous !== undefined && !previous.dropped && previous !== this.items[this.head]) {
        previous.dropped = true;
        this.live--;
      }
    }
    if (this.live >= this.options.maxQueue) this.dropOldest();
    if (item.key !== undefined) this.byKey.set(item.key, item);
    if (urgent && this.socket === undefined && this.head > 0) {
      this.items[--this.head] = item;
    } else if (urgent) {
      // Keep the in-flight message (if any) first.
      this.items.splice(this.head + (this.socket === undefined ? 0 : 1), 0, item);
    } else {
      this.items.push(item);
    }
    this.live++;
    this.pump();
  }

  /** Stop: abandon the queue and any connection in flight. Returns how many were abandoned. */
  close(): number {
    this.closed = true;
    const left = this.live;
    this.clearRetry();
    this.socket?.destroy();
    this.socket = undefined;
    this.items = [];
    this.head = 0;
    this.live = 0;
    this.byKey.clear();
    return left;
  }

  private dropOldest(): void {
    for (let i = this.head + (this.socket === undefined ? 0 : 1); i < this.items.length; i++) {
      const item = this.items[i] as Outgoing;
      if (item.dropped) continue;
      item.dropped = true;
      this.live--;
      this.hooks.onDropped(this.path, 1, `queue full (${this.options.maxQueue} messages): dropped the oldest (${item.type})`);
      return;
    }
  }

  private next(): Outgoing | undefined {
    while (this.head < this.items.length) {
      const item = this.items[this.head] as Outgoing;
      if (!item.dropped) return item;
      this.items[this.head++] = undefined as unknown as Outgoing;
    }
    return undefined;
  }

  private pump(): void {
    if (this.closed || this.socket !== undefined || this.retryTimer !== undefined) return;
    const item = this.next();
    if (item === undefined) {
      this.items = [];
      this.head = 0;
      this.byKey.clear();
      this.hooks.onIdle(this.path);
      return;
    }
    this.dial(item);
  }

  private dial(item: Outgoing): void {
    // One message per connection, written in one end(), then wait for the peer to close
    // (§2.2, §2.5, §10): that is how a serial reader tells us it is ready for the next one.
    const socket = connect({ path: this.path });
    this.socket = socket;
    let connected = false;
    let failure: NodeJS.ErrnoException | undefined;
    const timer = setTimeout(() => {
      failure ??= Object.assign(new Error(`no close within ${this.options.sendTimeoutMs} ms`), { code: 'ETIMEDOUT' });
      socket.destroy();
    }, this.options.sendTimeoutMs);
    socket.once('connect', () => {
      connected = true;
      socket.end(item.bytes);
    });
    socket.on('data', () => undefined);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      failure ??= error;
    });
    socket.once('close', () => {
      clearTimeout(timer);
      if (this.socket !== socket) return;
      this.socket = undefined;
      if (connected) {
        // Written (or lost mid-way, e.g. a Python client resetting on an oversized message,
        // §2.4): never resend what the peer may have read, or it would see it twice.
        if (failure !== undefined && failure.code !== 'ETIMEDOUT' && socket.bytesWritten < item.bytes.length) {
          this.hooks.onDropped(this.path, 1, `${item.type} lost while writing: ${failure.message}`);
        }
        this.settle(item, true);
        return;
      }
      this.failed(item, failure ?? new Error('connection closed before connect'));
    });
  }

  private settle(item: Outgoing, delivered: boolean): void {
    if (delivered) this.sent++;
    this.items[this.head++] = undefined as unknown as Outgoing;
    if (!item.dropped) this.live--;
    item.dropped = true;
    if (item.key !== undefined && this.byKey.get(item.key) === item) this.byKey.delete(item.key);
    this.attempts = 0;
    if (this.head > 1024 && this.head > this.items.length >> 1) {
      // Under sustained load the queue may never empty: drop the consumed prefix now and then.
      this.items.splice(0, this.head);
      this.head = 0;
    }
    if (delivered && this.unreachable) {
      this.unreachable = false;
      this.hooks.onReachability(this.path, true);
    }
    this.pump();
  }

  private failed(item: Outgoing, error: NodeJS.ErrnoException): void {
    const busy = error.code === 'EAGAIN';
    const keep = busy || this.hooks.keepOnFailure(this.path);
    if (!keep) {
      // Not a registered client: the reference just loses the message (§6.5).
      this.hooks.onDropped(this.path, 1, `${item.type} not delivered: ${error.code ?? error.message}`);
      this.settle(item, false);
      return;
    }
    if (!this.unreachable && (!busy || this.attempts >= busyDelays.length)) {
      this.unreachable = true;
      this.hooks.onReachability(this.path, false, `${error.code ?? 'error'}: ${error.message}`);
    }
    const delays = busy ? busyDelays : downDelays;
    const delay = delays[Math.min(this.attempts, delays.length - 1)] as number;
    this.attempts++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
    }, delay);
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}
