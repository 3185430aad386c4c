import type { Socket } from 'node:net';
import { describeError, type Counter, type InputBudget, type Logger } from '@patchbay/core';
import { readToEof } from '../protocol/wire.js';

/** A connection that has sent nothing for this long may be closed to admit a newcomer at maxConnections. */
const IDLE_EVICTABLE_MS = 1000;

/** Limits and hooks of an {@link InboundListener}. */
export interface InboundOptions {
  /** `master socket` or `client socket`, for log lines. */
  what: string;
  /** Connections open at once; at the cap the one idle longest gives way, else the newcomer is closed unread. */
  maxConnections: number;
  /** Bytes of unfinished messages over every connection; the connection that crosses it is closed. */
  maxBufferedBytes: number;
  /** The gateway-wide input budget, drawn on beside `maxBufferedBytes` (absent: this listener's alone). */
  gatewayBudget?: InputBudget;
  /** A whole message must arrive within this long of the connect (not restarted by each byte). */
  readTimeoutMs: number;
  /** One message's cap. */
  maxMessageBytes: number;
  logger: Logger;
  counters: { rejected: Counter; evicted: Counter };
  /** One complete message (the sender closed its side). */
  onMessage(bytes: Buffer): void;
  /** A message refused: too big, too slow, cut off, or over the listener's budget. */
  onBad(reason: string): void;
}

/**
 * Admission control of a TracimDaemon-style listener (issue 13.7): one message per connection
 * (protocols/tracim.md §2.2), read to EOF within a deadline set at the connect, under a cap on
 * connections and a budget for what unfinished messages hold over all of them. A flood of
 * silent connections cannot lock real senders out (the idlest gives way), trickles meet the
 * deadline, and memory stays within `maxBufferedBytes` plus one chunk.
 */
export class InboundListener {
  /** Connections in accept order: when each last sent a byte, and how much it holds. */
  private readonly open = new Map<Socket, { lastByteAt: number; bytes: number }>();
  /** Bytes of unfinished messages, over every connection. */
  private buffered = 0;
  /** Connections closed at maxConnections since the listener was last below it (one log line each episode). */
  private capped = 0;
  private closed = false;

  constructor(private readonly options: InboundOptions) {}

  /** Connections open now. */
  get connections(): number {
    return this.open.size;
  }

  /** Bytes of unfinished messages held now. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  accept(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    if (!this.admit(socket)) return;
    const { options } = this;
    const held = { lastByteAt: Date.now(), bytes: 0 };
    this.open.set(socket, held);
    socket.once('close', () => this.release(socket));
    // Before readToEof's listener: a chunk over the listener's budget closes the connection first.
    socket.on('data', (chunk: Buffer) => {
      held.lastByteAt = Date.now();
      if (options.gatewayBudget?.take(chunk.length) === false) {
        options.onBad(`a message on the ${options.what} refused: ${options.gatewayBudget.describe()}; closed the connection that crossed it`);
        socket.destroy();
        return;
      }
      held.bytes += chunk.length;
      this.buffered += chunk.length;
      if (this.buffered > options.maxBufferedBytes) {
        options.onBad(`${this.buffered} bytes of unfinished messages on the ${options.what}, over maxBufferedBytes ${options.maxBufferedBytes}: closed the connection that crossed it`);
        socket.destroy();
      }
    });
    void readToEof(socket, { timeoutMs: options.readTimeoutMs, maxBytes: options.maxMessageBytes })
      .then((read) => {
        // Connections cut by close() are not bad input.
        if (this.closed) return;
        if (read.ok) options.onMessage(read.bytes);
        else options.onBad(read.reason);
      })
      .catch((error: unknown) => options.logger.error(`inbound message on the ${options.what} could not be handled: ${describeError(error)}`));
  }

  /** Close every connection; later ones are closed unread. */
  close(): void {
    this.closed = true;
    for (const [socket, held] of this.open) {
      this.options.gatewayBudget?.give(held.bytes);
      socket.destroy();
    }
    this.open.clear();
    this.buffered = 0;
  }

  /**
   * At maxConnections the connection idle longest (no byte for a second or more) is closed for
   * the newcomer, as the Jeedom and Comodojo sockets do; with none, the newcomer is closed unread.
   */
  private admit(socket: Socket): boolean {
    const { maxConnections, what, logger, counters } = this.options;
    if (this.open.size < maxConnections) {
      if (this.capped > 0 && this.open.size < maxConnections - 1) {
        logger.warn(`${what} below maxConnections again (${this.capped} connections closed at the cap)`);
        this.capped = 0;
      }
      return true;
    }
    const now = Date.now();
    let idlest: Socket | undefined;
    let idlestAt = Number.POSITIVE_INFINITY;
    for (const [candidate, { lastByteAt }] of this.open) {
      if (now - lastByteAt >= IDLE_EVICTABLE_MS && lastByteAt < idlestAt) {
        idlest = candidate;
        idlestAt = lastByteAt;
      }
    }
    if (this.capped++ === 0) logger.warn({ limit: maxConnections }, `${what}: ${maxConnections} connections open (maxConnections); closing idle ones, else newcomers`);
    if (idlest) {
      counters.evicted.inc();
      this.release(idlest);
      idlest.destroy();
      return true;
    }
    counters.rejected.inc();
    socket.destroy();
    return false;
  }

  /** Forget a connection and what it held, once (on eviction, and again on its close). */
  private release(socket: Socket): void {
    const held = this.open.get(socket);
    if (!held) return;
    this.open.delete(socket);
    this.buffered -= held.bytes;
    this.options.gatewayBudget?.give(held.bytes);
  }
}
