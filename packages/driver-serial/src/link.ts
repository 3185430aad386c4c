import { Backoff, describeError, ErrorCodes, PatchbayError, type BackoffPolicy, type Logger } from '@patchbay/core';
import type { Connection, Transport } from './transport.js';

/** What the link tells the driver. */
export interface LinkHandlers {
  /** A connection is open (first time or again). */
  up(info: { reconnect: boolean }): void;
  data(chunk: Buffer): void;
  /** The port could not be opened, or was lost; called on every failed attempt. */
  down(reason: string): void;
}

/** Settings of a {@link Link}. */
export interface LinkOptions {
  transport: Transport;
  backoff: BackoffPolicy;
  /** Frames held while the port does not drain; writes beyond this fail. */
  maxQueuedWrites: number;
  /** For messages: the port's path. */
  label: string;
  logger: Logger;
  handlers: LinkHandlers;
}

/**
 * Keeps one connection open through a transport: opens it, reopens it with back-off when it
 * is lost or cannot be opened (never throws into the caller), and writes frames with
 * backpressure: once the stream says it is full, frames wait in a bounded queue for `drain`.
 */
export class Link {
  private connection: Connection | undefined;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private opening: Promise<void> | undefined;
  private everOpened = false;
  private readonly backoff: Backoff;
  private blocked = false;
  private queue: Buffer[] = [];
  private queueHead = 0;
  /** Why the port is not open, while it is not. */
  private reason = 'not started';

  constructor(private readonly options: LinkOptions) {
    this.backoff = new Backoff(options.backoff);
  }

  /** True while a connection is open. */
  get isOpen(): boolean {
    return this.connection !== undefined;
  }

  /** Why the port is not open (meaningful while `isOpen` is false). */
  get downReason(): string {
    return this.reason;
  }

  /** Frames waiting for the stream to drain. */
  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  /** Opens the first connection; resolves after that first attempt whether or not it worked. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.everOpened = false;
    this.backoff.reset();
    await this.attempt();
  }

  /** Stops reconnecting and closes the connection. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.opening;
    const connection = this.connection;
    this.connection = undefined;
    this.clearQueue();
    this.reason = 'stopped';
    await connection?.close();
  }

  /** Writes one frame, or queues it while the stream drains. Throws DEVICE_UNAVAILABLE when it cannot. */
  write(frame: Buffer): void {
    const connection = this.connection;
    if (connection === undefined) {
      throw new PatchbayError(ErrorCodes.DEVICE_UNAVAILABLE, `serial port ${this.options.label} is not open (${this.reason})`, { context: { path: this.options.label } });
    }
    if (this.blocked) {
      if (this.queued >= this.options.maxQueuedWrites) {
        throw new PatchbayError(ErrorCodes.DEVICE_UNAVAILABLE, `serial port ${this.options.label} is not keeping up: ${this.queued} frames already wait for it to drain`, {
          context: { path: this.options.label, queued: this.queued },
        });
      }
      this.queue.push(frame);
      return;
    }
    if (!connection.write(frame)) this.blocked = true;
  }

  private attempt(): Promise<void> {
    const attempt = this.connect();
    this.opening = attempt;
    void attempt.finally(() => {
      if (this.opening === attempt) this.opening = undefined;
    });
    return attempt;
  }

  private async connect(): Promise<void> {
    // Per-connection state: the transport may report the end before we have stored it.
    let connection: Connection | undefined;
    let endedEarly: string | undefined;
    try {
      connection = await this.options.transport({
        data: (chunk) => {
          if (this.running) this.options.handlers.data(chunk);
        },
        drain: () => {
          if (this.connection === connection) this.flush();
        },
        closed: (reason) => {
          if (this.connection === connection && connection !== undefined) this.lost(reason);
          else endedEarly = reason;
        },
      });
    } catch (error) {
      if (!this.running) return;
      this.reason = describeError(error);
      this.options.handlers.down(this.reason);
      this.schedule();
      return;
    }
    if (!this.running) {
      await connection.close();
      return;
    }
    if (endedEarly !== undefined) {
      this.reason = `lost right after opening: ${endedEarly}`;
      this.options.handlers.down(this.reason);
      this.schedule();
      return;
    }
    this.connection = connection;
    this.blocked = false;
    this.backoff.reset();
    const reconnect = this.everOpened;
    this.everOpened = true;
    this.options.handlers.up({ reconnect });
  }

  private lost(reason: string): void {
    this.connection = undefined;
    this.clearQueue();
    this.reason = `serial port ${this.options.label} ${reason}`;
    this.options.handlers.down(this.reason);
    this.schedule();
  }

  private schedule(): void {
    if (!this.running || this.timer) return;
    const delay = this.backoff.next();
    if (this.options.logger.isLevelEnabled('debug')) this.options.logger.debug({ delay, path: this.options.label }, `serial ${this.options.label}: reopening in ${delay} ms`);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.running) void this.attempt();
    }, delay);
  }

  private flush(): void {
    const connection = this.connection;
    if (!connection) return;
    this.blocked = false;
    while (this.queueHead < this.queue.length) {
      const frame = this.queue[this.queueHead] as Buffer;
      this.queueHead++;
      if (!connection.write(frame)) {
        this.blocked = true;
        break;
      }
    }
    if (this.queueHead === this.queue.length) this.clearQueue();
  }

  private clearQueue(): void {
    this.queue = [];
    this.queueHead = 0;
    this.blocked = false;
  }
}
