import { connect, type Socket } from 'node:net';

/** One message waiting for a destination. */
export interface Outgoing {
  /**
   * The bytes, or how to make them once the message's turn comes (undefined: skip it). A
   * message coalesced away before its turn is then never encoded.
   */
  bytes: Buffer | (() => Buffer | undefined);
  /** Wire type, for logs. */
  type: string;
  /** Device+channel for state TLMs: coalesced while the destination is unreachable or behind. */
  key?: string;
  /** A synthesised TLM's `event_id`: each destination sends them increasing. */
  eventId?: number;
  /** The same message under another `event_id` (for one coalesced ahead of newer ones). */
  renumber?(eventId: number): Buffer | undefined;
}

/** A queued message, linked both ways so dropping one from the middle costs O(1). */
interface Entry {
  item: Outgoing;
  /** Made at the first attempt, kept for the retries. */
  bytes: Buffer | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
  /** Unlinked: delivered, given up, coalesced away or dropped by the bound. */
  gone: boolean;
  /** Queued ahead of the others (pings, acks, command replies). */
  urgent: boolean;
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
  /**
   * Once per transition: the peer took a connection and did not close it within the send
   * timeout (stalled), or closed one in time again. Optional.
   */
  onStalled?(path: string, stalled: boolean): void;
  /** A fresh TLM `event_id`, above every one taken so far (for {@link Outgoing.renumber}). */
  takeEventId?(): number;
}

/** Timing of a destination. */
export interface DestinationOptions {
  sendTimeoutMs: number;
  maxQueue: number;
  /**
   * Past this many waiting messages, state is coalesced (latest per device+channel) even while
   * the peer answers: a slow handler would otherwise get ever older state. Default: never.
   */
  coalesceAfter?: number;
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
 *
 * The queue is a linked list holding only live messages: a destination that accepts and never
 * closes gets a drop per push once full, and each must free its buffer at once and cost O(1),
 * or one stuck client grows memory without bound and stalls the event loop.
 */
export class Destination {
  /** The oldest entry; while a socket is open it is the message in flight. */
  private first: Entry | undefined;
  private last: Entry | undefined;
  /** The newest urgent entry still queued: the next urgent one goes after it (urgent ones keep their order). */
  private lastUrgent: Entry | undefined;
  private live = 0;
  private readonly byKey = new Map<string, Entry>();
  private socket: Socket | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempts = 0;
  private unreachable = false;
  private stalledNow = false;
  private closed = false;
  /** The last TLM `event_id` sent. */
  private lastEventId = 0;
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

  /** True while the peer's last connection was not closed within the send timeout. */
  get stalled(): boolean {
    return this.stalledNow;
  }

  /**
   * True while a state message pushed now would take the slot of a waiting one (the peer is
   * unreachable or behind): what it is sent then is decided at its turn.
   */
  get coalescing(): boolean {
    return this.unreachable || this.live >= (this.options.coalesceAfter ?? Number.POSITIVE_INFINITY);
  }

  /** True while nothing waits and nothing is in flight. */
  get idle(): boolean {
    return this.live === 0 && this.socket === undefined;
  }

  /**
   * Queue a message; `urgent` ones (pings, acks, command replies) go before every other one not
   * yet in flight, in the order they came: a reply must not wait a whole pass of a long queue of
   * state (issue 20).
   */
  push(item: Outgoing, urgent = false): void {
    if (this.closed) return;
    if (item.key !== undefined && this.coalescing) {
      // Latest value wins per device+channel while the client cannot be reached (ARCHITECTURE.md,
      // Delivery), and while it is behind: a client that handles a TLM in 0.3 s gets the state of
      // now, not of a minute ago. Below the threshold every change still arrives. The slot keeps
      // its turn and takes the new value, as the core's outbox does: moved to the tail instead,
      // a channel that changes more often than the queue drains would never reach the client.
      const previous = this.byKey.get(item.key);
      if (previous !== undefined && !(previous === this.first && this.socket !== undefined)) {
        previous.item = item;
        previous.bytes = undefined;
        return;
      }
    }
    if (this.live >= this.options.maxQueue && !this.makeRoom(item, urgent)) return;
    const entry: Entry = { item, bytes: undefined, prev: undefined, next: undefined, gone: false, urgent };
    if (item.key !== undefined) this.byKey.set(item.key, entry);
    // Urgent ones go first, but never ahead of the message in flight.
    if (urgent) {
      this.insertAfter(this.lastUrgent ?? (this.socket === undefined ? undefined : this.first), entry);
      this.lastUrgent = entry;
    } else this.insertAfter(this.last, entry);
    this.pump();
  }

  /** Stop: abandon the queue and any connection in flight. Returns how many were abandoned. */
  close(): number {
    this.closed = true;
    const left = this.live;
    this.clearRetry();
    this.socket?.destroy();
    this.socket = undefined;
    this.first = undefined;
    this.last = undefined;
    this.lastUrgent = undefined;
    this.live = 0;
    this.byKey.clear();
    return left;
  }

  private insertAfter(before: Entry | undefined, entry: Entry): void {
    const after = before === undefined ? this.first : before.next;
    entry.prev = before;
    entry.next = after;
    if (before === undefined) this.first = entry;
    else before.next = entry;
    if (after === undefined) this.last = entry;
    else after.prev = entry;
    this.live++;
  }

  private unlink(entry: Entry): void {
    if (entry.gone) return;
    entry.gone = true;
    if (entry === this.lastUrgent) this.lastUrgent = entry.prev?.urgent === true ? entry.prev : undefined;
    if (entry.prev === undefined) this.first = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === undefined) this.last = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = undefined;
    entry.next = undefined;
    this.live--;
    const key = entry.item.key;
    if (key !== undefined && this.byKey.get(key) === entry) this.byKey.delete(key);
  }

  /**
   * A full queue drops its oldest message that is neither in flight (it may be with the peer
   * already) nor urgent: a reply, an ack or a pong must not make way for state, or a client
   * kept full by a busy installation would never get its commands' replies (issue 20: at
   * 10,000 devices, one reply in five). Only when nothing else is left does an urgent message go
   * for another, and a state message is then the one dropped. False: drop `incoming`.
   */
  private makeRoom(incoming: Outgoing, urgent: boolean): boolean {
    const inFlight = this.socket === undefined ? undefined : this.first;
    const head = inFlight === undefined ? this.first : inFlight.next;
    // Urgent messages wait at the front, behind the one in flight, or behind a message that was
    // in flight when they came and now waits for its retry: that one is the oldest if it is state.
    let oldest = head !== undefined && !head.urgent ? head : this.lastUrgent === undefined ? head : this.lastUrgent.next;
    if (oldest === undefined) {
      if (!urgent) {
        this.hooks.onDropped(this.path, 1, `queue full (${this.options.maxQueue} messages, every one waiting a reply, an ack or a pong): dropped the new ${incoming.type}`);
        return false;
      }
      oldest = head;
      if (oldest === undefined) return true;
    }
    this.unlink(oldest);
    this.hooks.onDropped(this.path, 1, `queue full (${this.options.maxQueue} messages): dropped the oldest (${oldest.item.type})`);
    return true;
  }

  private pump(): void {
    if (this.closed || this.socket !== undefined || this.retryTimer !== undefined) return;
    let entry = this.first;
    // A message the size policy skips goes without a connection.
    while (entry !== undefined && (entry.bytes ??= this.encode(entry.item)) === undefined) {
      this.unlink(entry);
      entry = this.first;
    }
    if (entry === undefined) {
      this.byKey.clear();
      this.hooks.onIdle(this.path);
      return;
    }
    this.dial(entry, entry.bytes as Buffer);
  }

  /** The bytes of a message whose turn came: a TLM coalesced ahead of newer ones gets a fresh id, so ids only go up. */
  private encode(item: Outgoing): Buffer | undefined {
    const { eventId } = item;
    if (eventId === undefined) return typeof item.bytes === 'function' ? item.bytes() : item.bytes;
    if (eventId > this.lastEventId || item.renumber === undefined || this.hooks.takeEventId === undefined) {
      this.lastEventId = Math.max(this.lastEventId, eventId);
      return typeof item.bytes === 'function' ? item.bytes() : item.bytes;
    }
    this.lastEventId = this.hooks.takeEventId();
    return item.renumber(this.lastEventId);
  }

  private dial(entry: Entry, bytes: Buffer): void {
    const item = entry.item;
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
      socket.end(bytes);
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
        if (failure !== undefined && failure.code !== 'ETIMEDOUT' && socket.bytesWritten < bytes.length) {
          this.hooks.onDropped(this.path, 1, `${item.type} lost while writing: ${failure.message}`);
        }
        // A peer that accepts and never closes holds each message for the whole send timeout:
        // say so (once per episode) rather than look like a healthy client.
        this.setStalled(failure?.code === 'ETIMEDOUT');
        this.settle(entry, true);
        return;
      }
      this.failed(entry, failure ?? new Error('connection closed before connect'));
    });
  }

  private setStalled(stalled: boolean): void {
    if (stalled === this.stalledNow) return;
    this.stalledNow = stalled;
    this.hooks.onStalled?.(this.path, stalled);
  }

  private settle(entry: Entry, delivered: boolean): void {
    if (delivered) this.sent++;
    this.unlink(entry);
    this.attempts = 0;
    if (delivered && this.unreachable) {
      this.unreachable = false;
      this.hooks.onReachability(this.path, true);
    }
    this.pump();
  }

  private failed(entry: Entry, error: NodeJS.ErrnoException): void {
    const item = entry.item;
    const busy = error.code === 'EAGAIN';
    const keep = busy || this.hooks.keepOnFailure(this.path);
    if (!keep) {
      // Not a registered client: the reference just loses the message (§6.5).
      this.hooks.onDropped(this.path, 1, `${item.type} not delivered: ${error.code ?? error.message}`);
      this.settle(entry, false);
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
