import { isUtf8 } from 'node:buffer';
import net from 'node:net';
import { describeError, ErrorCodes, jsonDepthExceeds, MAX_JSON_DEPTH, PatchbayError, type Counter, type InputBudget, type Logger } from '@patchbay/core';
import { KeyCheck } from './keyCheck.js';

/** A downward message that passed framing, decoding and the apikey check. */
export type JeedomMessage = Record<string, unknown>;

/** Settings of the downward listener. */
export interface CommandSocketOptions {
  host: string;
  port: number;
  apikey: string;
  /** A message longer than this is refused (the reference has no limit; we keep one). */
  maxMessageBytes: number;
  /**
   * A connection whose message is not complete this long after it opened is closed (§3.2
   * SHOULD, ≥ 10 s). A deadline from the connect, not an idle timer: bytes trickled one at a
   * time do not push it back.
   */
  messageTimeoutMs: number;
  /** Connections open at once; one more is closed at once, unread (a flood must not hold the gateway). */
  maxConnections: number;
  /** Bytes all unfinished messages may hold together; the connection that would pass it is closed. */
  maxBufferedBytes: number;
  /** The gateway-wide input budget, drawn on beside `maxBufferedBytes` (absent: this listener's alone). */
  gatewayBudget?: InputBudget;
  logger: Logger;
  /** Counts every refused message (bad apikey, bad JSON, empty, too large, stalled, over a cap). */
  rejected: Counter;
  /** Counts connections that sent nothing, closed at the cap to admit a new one. */
  evicted?: Counter;
  /**
   * Called synchronously for each accepted message, in the order messages complete. The
   * connection stays open until `done()`: the peer sees its EOF only once the message is taken
   * (for a command, journaled), so a crash before that is one the peer can see (issue 13.3).
   */
  onMessage(message: JeedomMessage, done: () => void): void;
}

const LF = 0x0a;

/**
 * At the cap, a connection that has sent nothing for this long makes room for a newcomer:
 * Jeedom's PHP writes its message as soon as it connects, so a silent one is not Jeedom, and
 * a flood of them must not lock the plugin out until the deadline (issue 13.7).
 */
const EVICT_SILENT_MS = 1000;

/**
 * Deeper messages are refused: JSON.parse accepts thousands of levels, but logging or
 * handling them recurses past the stack. Jeedom's own messages are two or three deep.
 */
const MAX_DEPTH = MAX_JSON_DEPTH;

/** Why a downward message was refused; `message` is the one ERROR line logged. */
class Refusal extends Error {}

const INBOUND = Symbol('jeedom.inbound');
type InboundSocket = net.Socket & { [INBOUND]: Inbound };

/** One downward connection: its unfinished message and whether it was settled. */
class Inbound {
  readonly openedAt = Date.now();
  readonly chunks: Buffer[] = [];
  /** Bytes held in `chunks`, charged to the listener's budget. */
  size = 0;
  /** Its message was taken, refused or timed out: nothing more is read. */
  done = false;
  private ended = false;
  private peer: string | undefined;

  constructor(
    readonly owner: CommandSocket,
    readonly socket: net.Socket,
  ) {}

  /** The peer's address for a log line: a getpeername() call, so only fetched then. */
  from(): string {
    return (this.peer ??= `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`);
  }

  /** Closes our side once, when the message is taken (the adapter may call it twice). */
  readonly ack = (): void => {
    if (this.ended) return;
    this.ended = true;
    this.socket.end();
  };
}

/**
 * The downward channel (protocols/jeedom.md §3): a TCP server on IPv4 where each connection
 * carries one JSON object, read to the first LF or to EOF; nothing is ever written back.
 * Connections are handled concurrently with an idle timeout, so one that stalls delays no
 * other (§3.2, deviation from the reference's single thread).
 */
export class CommandSocket {
  private server: net.Server | undefined;
  private readonly sockets = new Map<net.Socket, Inbound>();
  /** The deadline sweep, while connections are open. */
  private sweeper: NodeJS.Timeout | undefined;
  private readonly key: KeyCheck;
  /** Open connections that have sent nothing yet, oldest first (the eviction candidates). */
  private readonly silent = new Set<Inbound>();
  /** Bytes held by unfinished messages, across connections. */
  private buffered = 0;
  /** Connections closed for the connection cap since the last log line about it. */
  private overCap = 0;
  /** Silent connections closed at the cap since the last log line about it. */
  private evicted = 0;

  constructor(private readonly options: CommandSocketOptions) {
    this.key = new KeyCheck(options.apikey);
  }

  /** The bound port (after `listen`). */
  get port(): number | undefined {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : undefined;
  }

  /** Bind and listen; rejects (e.g. `EADDRINUSE`) without leaving anything open. */
  listen(): Promise<void> {
    // No noDelay: nothing is ever written back but the FIN, which Nagle does not hold, and the
    // setsockopt per connection was an eighth of the socket's time per message (bench/jeedom).
    const server = net.createServer({ allowHalfOpen: false }, (socket) => this.accept(socket));
    return new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        server.close();
        reject(error);
      };
      server.once('error', onError);
      // §3.1: an IPv4 literal, never "localhost" (which may bind ::1 only); exclusive so a
      // second daemon on the same port fails instead of sharing it.
      server.listen({ host: this.options.host, port: this.options.port, backlog: 511, exclusive: true }, () => {
        server.off('error', onError);
        server.on('error', (error) => this.options.logger.error({ err: error }, `command socket error: ${error.message}`));
        this.server = server;
        resolve();
      });
    });
  }

  /** Stop listening and drop open connections. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const socket of this.sockets.keys()) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    const { options } = this;
    if (this.sockets.size >= options.maxConnections) this.evictSilent();
    if (this.sockets.size >= options.maxConnections) {
      // Closed unread. One line per episode, not per connection: a flood would flood the log.
      options.rejected.inc();
      if (this.overCap++ === 0) {
        options.logger.error(`Connection from socket refused: ${this.sockets.size} connections already open (maxConnections ${options.maxConnections}); further refusals are counted, not logged, until one closes`);
      }
      socket.destroy();
      return;
    }
    const inbound = new Inbound(this, socket);
    (socket as InboundSocket)[INBOUND] = inbound;
    this.sockets.set(socket, inbound);
    this.silent.add(inbound);
    this.sweepSoon();
    socket.on('data', CommandSocket.onData);
    socket.on('end', CommandSocket.onEnd);
    socket.on('error', CommandSocket.onError);
    socket.on('close', CommandSocket.onClose);
  }

  // The listeners are shared by every connection (`this` is the socket): PHP opens one
  // connection per message, and closures per connection were measurable in bench/jeedom.
  private static onData(this: InboundSocket, chunk: Buffer): void {
    const inbound = this[INBOUND];
    if (inbound.done) return; // §3.2: anything after the first LF is discarded.
    const owner = inbound.owner;
    owner.silent.delete(inbound);
    const { options } = owner;
    const lf = chunk.indexOf(LF);
    if (lf >= 0) {
      inbound.chunks.push(lf === chunk.length - 1 ? chunk : chunk.subarray(0, lf + 1));
      owner.finish(inbound);
      return;
    }
    if (inbound.size + chunk.length > options.maxMessageBytes) {
      owner.drop(inbound, `Message from socket ${inbound.from()} refused: longer than maxMessageBytes (${options.maxMessageBytes} bytes); connection closed`);
      return;
    }
    if (owner.buffered + chunk.length > options.maxBufferedBytes) {
      owner.drop(inbound, `Message from socket ${inbound.from()} refused: unfinished messages hold ${owner.buffered} bytes, the listener's maxBufferedBytes is ${options.maxBufferedBytes}; connection closed`);
      return;
    }
    if (options.gatewayBudget?.take(chunk.length) === false) {
      owner.drop(inbound, `Message from socket ${inbound.from()} refused: ${options.gatewayBudget.describe()}; connection closed`);
      return;
    }
    inbound.size += chunk.length;
    owner.buffered += chunk.length;
    inbound.chunks.push(chunk);
  }

  private static onEnd(this: InboundSocket): void {
    const inbound = this[INBOUND];
    if (!inbound.done) inbound.owner.finish(inbound);
  }

  private static onError(this: InboundSocket, error: Error): void {
    const inbound = this[INBOUND];
    const { logger } = inbound.owner.options;
    // A reset after the message was read is the client's business, not an error of ours.
    if (!inbound.done && logger.isLevelEnabled('debug')) logger.debug({ err: error }, `socket ${inbound.from()}: ${error.message}`);
  }

  private static onClose(this: InboundSocket): void {
    const inbound = this[INBOUND];
    const owner = inbound.owner;
    const { options } = owner;
    if (!inbound.done) owner.release(inbound);
    owner.sockets.delete(this);
    owner.silent.delete(inbound);
    if ((owner.overCap > 0 || owner.evicted > 0) && owner.sockets.size < options.maxConnections) {
      options.logger.warn(`Command socket accepts connections again (${owner.overCap} refused and ${owner.evicted} silent ones closed while ${options.maxConnections} were open)`);
      owner.overCap = 0;
      owner.evicted = 0;
    }
  }

  /** At the cap: closes the connection silent longest, if silent for EVICT_SILENT_MS. */
  private evictSilent(): void {
    // A Set keeps insertion order: the first entry is the oldest silent connection.
    const oldest = this.silent.values().next();
    if (oldest.done) return;
    const inbound = oldest.value;
    if (Date.now() - inbound.openedAt < EVICT_SILENT_MS) return;
    this.silent.delete(inbound);
    this.sockets.delete(inbound.socket);
    inbound.done = true;
    inbound.socket.destroy();
    this.options.evicted?.inc();
    if (this.evicted++ === 0) {
      this.options.logger.warn(`Command socket at maxConnections (${this.options.maxConnections}): closing connections that sent nothing for ${EVICT_SILENT_MS} ms to admit new ones; further ones are counted, not logged, until the socket is below its cap`);
    }
  }

  /** Gives back what an unfinished message held against the listener's budget. */
  private release(inbound: Inbound): void {
    this.buffered -= inbound.size;
    this.options.gatewayBudget?.give(inbound.size);
    inbound.size = 0;
    inbound.chunks.length = 0;
  }

  /** Refuses the connection's message with one line and closes it at once. */
  private drop(inbound: Inbound, line: string): void {
    inbound.done = true;
    this.refuse(line);
    this.release(inbound);
    inbound.socket.destroy();
  }

  private finish(inbound: Inbound): void {
    const { chunks } = inbound;
    const data = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    inbound.done = true;
    this.release(inbound);
    // §3.2: nothing is written back; FIN once the message is taken (journaled, for a command).
    this.handle(data, inbound, inbound.ack);
  }

  /**
   * The message deadline (§3.2, 13.7): one timer for the listener, not one per connection.
   * It runs while connections are open, every quarter of the deadline (at most a second), so a
   * stalled connection is closed no sooner than the deadline and at most that much later.
   */
  private sweepSoon(): void {
    if (this.sweeper !== undefined) return;
    const period = Math.max(10, Math.min(1000, Math.ceil(this.options.messageTimeoutMs / 4)));
    this.sweeper = setInterval(() => this.sweep(), period);
    this.sweeper.unref();
  }

  private sweep(): void {
    const now = Date.now();
    const { messageTimeoutMs } = this.options;
    for (const inbound of this.sockets.values()) {
      if (inbound.done || now - inbound.openedAt < messageTimeoutMs) continue;
      this.drop(inbound, `Connection from socket ${inbound.from()} stalled: no complete message within ${messageTimeoutMs} ms (${inbound.size} bytes read); closed`);
    }
    if (this.sockets.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private handle(data: Buffer, inbound: Inbound, done: () => void): void {
    let message: JeedomMessage;
    try {
      message = this.decode(data, inbound);
    } catch (error) {
      done();
      // Anything but a Refusal is a bug of ours; still one line, never out of the socket's callback.
      this.refuse(error instanceof Refusal ? error.message : `Message from socket ${inbound.from()} could not be read (${describeError(error)}); ignored`);
      return;
    }
    try {
      this.options.onMessage(message, done);
    } catch (error) {
      done();
      // §3.5: a handler error is logged with the reference's wording; the daemon continues.
      this.options.logger.error({ err: error }, `Send command to demon error: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** §3.3: decode as UTF-8, trim whitespace, parse, require an object; §3.5: check the key. */
  private decode(data: Buffer, inbound: Inbound): JeedomMessage {
    const peer = (): string => inbound.from();
    if (data.length === 0) throw new Refusal(`Empty message from socket ${peer()} (connection closed without data); ignored`);
    if (!isUtf8(data)) throw new Refusal(`Invalid message from socket ${peer()}: not valid UTF-8 (${data.length} bytes); ignored`);
    const text = data.toString('utf8').trim();
    if (text.length === 0) throw new Refusal(`Empty message from socket ${peer()} (only whitespace); ignored`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new Refusal(`Invalid message from socket ${peer()}: not JSON (${describeError(error)}): ${preview(text, this.options.apikey)}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Refusal(`Invalid message from socket ${peer()}: expected a JSON object, got ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}; ignored`);
    }
    // Checked before the key, as even the wrong-key line serializes the message.
    if (jsonDepthExceeds(parsed, MAX_DEPTH)) throw new Refusal(`Invalid message from socket ${peer()}: nested deeper than ${MAX_DEPTH} levels (${data.length} bytes); ignored`);
    const message = parsed as JeedomMessage;
    if (typeof message.apikey !== 'string') throw new Refusal(`Invalid or no apikey in message from socket ${peer()}; ignored`);
    // Constant time: neither the length nor the content of our key leaks (keyCheck.ts).
    if (!this.key.matches(message.apikey)) {
      throw new Refusal(`Invalid apikey from socket ${peer()}: message dropped (${describeMessage(message, this.options.apikey)})`);
    }
    if (this.options.logger.isLevelEnabled('debug')) this.options.logger.debug(`Message read from socket ${peer()}: ${describeMessage(message, this.options.apikey)}`);
    return message;
  }

  private refuse(line: string): void {
    this.options.rejected.inc();
    this.options.logger.error(line);
  }
}

const PREVIEW_CHARS = 120;

/** An `"apikey"` field's value, whole or cut off where the text ends. */
const APIKEY_FIELD = /("apikey"\s*:\s*")(?:[^"\\]|\\.)*("?)/gi;

/**
 * The start of `text` for a log line, without any key (§8.11): PHP's json_encode puts
 * `apikey` last, so in a short or cut-off message it falls inside the preview. Redacted
 * before cutting, so a key that starts in the preview is matched whole.
 */
function preview(text: string, apikey: string): string {
  let head = text.slice(0, PREVIEW_CHARS + apikey.length);
  if (apikey.length > 0) head = head.replaceAll(apikey, '[redacted]');
  head = head.replace(APIKEY_FIELD, '$1[redacted]$2');
  return JSON.stringify(head.length > PREVIEW_CHARS || text.length > PREVIEW_CHARS + apikey.length ? `${head.slice(0, PREVIEW_CHARS)}…` : head);
}

/** The message for logs, without its key (never log an apikey, right or wrong: §8.11). */
function describeMessage(message: JeedomMessage, apikey: string): string {
  const { apikey: _apikey, ...rest } = message;
  return preview(JSON.stringify(rest), apikey);
}

/** Wraps a failed bind into the coded error the adapter reports. */
export function bindError(error: unknown, where: { host: string; port: number }): PatchbayError {
  const reason = error instanceof Error ? error.message : String(error);
  return new PatchbayError(ErrorCodes.START_FAILED, `Fatal error: ${reason} (command socket ${where.host}:${where.port})`, { context: where, cause: error });
}
