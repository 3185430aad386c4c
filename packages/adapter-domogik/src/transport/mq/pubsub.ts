import { ErrorCodes, PatchbayError, type Counter, type Logger } from '@patchbay/core';
import { Publisher, Subscriber } from 'zeromq';
import { categoryOf, decodeObject, describeFrames, encodeJson, messageId, type JsonObject } from '../../protocol/wire.js';
import { SendQueue } from './sendQueue.js';

/** Options of {@link DomogikPublisher}. */
export interface PublisherOptions {
  /** The forwarder's pub port, `tcp://<ip>:<pub_port>` (§2). */
  endpoint: string;
  /** Wait after connecting before the first publication (§4.4, §11.7: at least 200 ms). */
  joinDelayMs: number;
  /** Queue bound in zeromq before it drops (§4.4). */
  highWaterMark?: number;
}

/**
 * Publishes two-frame messages `[<category>.<ts>.0_1, json]` (§4.1, §4.2) through the
 * forwarder. Connects, never binds (§11.1). Publications are refused (HOST_UNREACHABLE) until
 * the slow-joiner delay has passed, so the outbox keeps them rather than zeromq dropping them.
 */
export class DomogikPublisher {
  private socket: Publisher | undefined;
  private sender: SendQueue | undefined;
  private joinTimer: NodeJS.Timeout | undefined;
  private readonly readyWaiters: (() => void)[] = [];

  constructor(private readonly options: PublisherOptions) {}

  start(): void {
    if (this.socket) return;
    this.socket = new Publisher({ linger: 0, sendHighWaterMark: this.options.highWaterMark ?? 100_000 });
    this.socket.connect(this.options.endpoint);
    this.sender = new SendQueue(this.socket);
    this.joinTimer = setTimeout(() => {
      this.joinTimer = undefined;
      for (const resolve of this.readyWaiters.splice(0)) resolve();
      // +1: libuv's cached loop time may fire a timer a fraction of a millisecond early (§11.7 says at least).
    }, this.options.joinDelayMs + 1);
  }

  /** True once the slow-joiner delay has passed. */
  get ready(): boolean {
    // The timer alone decides (monotonic clock): Date.now() may lag it by a millisecond.
    return this.socket !== undefined && this.joinTimer === undefined;
  }

  /** Resolves when {@link ready}. */
  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Publishes one message; resolves once zeromq has queued it. */
  publish(category: string, data: JsonObject): Promise<void> {
    if (!this.sender || !this.ready) {
      return Promise.reject(new PatchbayError(ErrorCodes.HOST_UNREACHABLE, 'the Domogik publisher is not connected yet', { context: { category } }));
    }
    return this.sender.send([messageId(category), encodeJson(data)]);
  }

  /** Resolves once everything queued has been handed to zeromq. */
  drained(): Promise<void> {
    return this.sender?.drained() ?? Promise.resolve();
  }

  close(): void {
    clearTimeout(this.joinTimer);
    this.joinTimer = undefined;
    // Give what is already queued (the final `stopped` status) a moment to leave; linger 0 would drop it.
    if (this.socket) this.socket.linger = 500;
    this.socket?.close();
    this.socket = undefined;
    this.sender = undefined;
    for (const resolve of this.readyWaiters.splice(0)) resolve();
  }
}

/** Pause before a subscriber's new socket, so a peer that drops every connection costs one attempt a second. */
const REOPEN_DELAY_MS = 1000;

/** Options of {@link DomogikSubscriber}. */
export interface SubscriberOptions {
  /** The forwarder's sub port, `tcp://<ip>:<sub_port>` (§2). */
  endpoint: string;
  categories: readonly string[];
  logger: Logger;
  badMessages: Counter;
  onMessage(category: string, data: JsonObject): void;
  /** Largest message part taken from the forwarder (ZMQ_MAXMSGSIZE): libzmq drops the connection on a bigger one. */
  maxMessageBytes: number;
}

/**
 * Subscribes like Domogik's `MQAsyncSub` (§4.3, §11.5–6): prefix filters on the wire, then the
 * category parsed by dropping the last two dot parts and compared with `===`. Malformed
 * messages are dropped with one log line and a counter, and the loop keeps running.
 */
export class DomogikSubscriber {
  private socket: Subscriber | undefined;
  private loop: Promise<void> | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;
  /** A publication arrived on the current socket: a drop then is news, not a bus still starting. */
  private heard = false;
  /** "Dropped before anything arrived" was said for the current wait: said once, not at every attempt. */
  private waitingLogged = false;

  constructor(private readonly options: SubscriberOptions) {}

  start(): void {
    if (this.socket) return;
    const socket = new Subscriber({ linger: 0, maxMessageSize: this.options.maxMessageBytes });
    // A dropped connection gets a new socket a moment later, which sends its subscriptions again.
    socket.events.on('disconnect', () => {
      if (this.socket === socket) this.reopen(socket);
    });
    socket.connect(this.options.endpoint);
    for (const category of this.options.categories) socket.subscribe(category);
    this.socket = socket;
    this.heard = false;
    this.loop = this.run(socket);
  }

  async close(): Promise<void> {
    clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    socket?.close();
    await this.loop;
  }

  private reopen(socket: Subscriber): void {
    const { logger, maxMessageBytes, endpoint } = this.options;
    if (this.heard) {
      this.waitingLogged = false;
      logger.warn(`domogik subscriber: the connection to the forwarder dropped (it went away, or published a message part over ${maxMessageBytes} bytes, domogik.busMaxMessageBytes); subscribing again in ${REOPEN_DELAY_MS} ms`);
    } else if (!this.waitingLogged) {
      // Nothing came on this socket yet: a bus that is still starting (issue 14.10), said once.
      this.waitingLogged = true;
      logger.info(`domogik subscriber: the connection to the forwarder at ${endpoint} dropped before anything was published on it; subscribing again every ${REOPEN_DELAY_MS} ms`);
    }
    this.socket = undefined;
    socket.close();
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      this.start();
    }, REOPEN_DELAY_MS);
  }

  private drop(frames: Buffer[], why: string): void {
    this.options.badMessages.inc();
    this.options.logger.warn({ frames: describeFrames(frames) }, `domogik subscriber: dropped a malformed publication: ${why}`);
  }

  private async run(socket: Subscriber): Promise<void> {
    try {
      for await (const frames of socket) {
        if (this.socket === socket) this.heard = true;
        if (frames.length < 2) {
          this.drop(frames, 'fewer than 2 frames');
          continue;
        }
        const id = (frames[0] as Buffer).toString('latin1');
        const category = categoryOf(id);
        if (category === undefined) {
          this.drop(frames, `id ${JSON.stringify(id.slice(0, 60))} has fewer than 3 dot parts`);
          continue;
        }
        // Prefix filters over-match (plugin.statusfoo for plugin.status): exact match only (§4.3).
        if (!this.options.categories.includes(category)) continue;
        let data: JsonObject;
        try {
          data = decodeObject(frames[1], `publication ${category}`);
        } catch (error) {
          this.drop(frames, (error as Error).message);
          continue;
        }
        try {
          this.options.onMessage(category, data);
        } catch (error) {
          this.options.logger.error({ err: error, category }, `domogik subscriber: handling ${category} failed: ${(error as Error).message}`);
        }
      }
    } catch (error) {
      if (this.socket === socket) this.options.logger.error({ err: error }, `domogik subscriber stopped: ${(error as Error).message}`);
    }
  }
}
