import { isUtf8 } from 'node:buffer';
import crypto, { createHash, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import { describeError, ErrorCodes, jsonDepthExceeds, MAX_JSON_DEPTH, PatchbayError, type Counter, type Logger } from '@patchbay/core';

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
  logger: Logger;
  /** Counts every refused message (bad apikey, bad JSON, empty, too large, stalled, over a cap). */
  rejected: Counter;
  /**
   * Called synchronously for each accepted message, in the order messages complete. The
   * connection stays open until `done()`: the peer sees its EOF only once the message is taken
   * (for a command, journaled), so a crash before that is one the peer can see (issue 13.3).
   */
  onMessage(message: JeedomMessage, done: () => void): void;
}

const LF = 0x0a;

/**
 * Deeper messages are refused: JSON.parse accepts thousands of levels, but logging or
 * handling them recurses past the stack. Jeedom's own messages are two or three deep.
 */
const MAX_DEPTH = MAX_JSON_DEPTH;

/** Why a downward message was refused; `message` is the one ERROR line logged. */
class Refusal extends Error {}

/**
 * The downward channel (protocols/jeedom.md §3): a TCP server on IPv4 where each connection
 * carries one JSON object, read to the first LF or to EOF; nothing is ever written back.
 * Connections are handled concurrently with an idle timeout, so one that stalls delays no
 * other (§3.2, deviation from the reference's single thread).
 */
export class CommandSocket {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly expected: Buffer;
  /** Bytes held by unfinished messages, across connections. */
  private buffered = 0;
  /** Connections closed for the connection cap since the last log line about it. */
  private overCap = 0;

  constructor(private readonly options: CommandSocketOptions) {
    this.expected = digest(options.apikey);
  }

  /** The bound port (after `listen`). */
  get port(): number | undefined {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : undefined;
  }

  /** Bind and listen; rejects (e.g. `EADDRINUSE`) without leaving anything open. */
  listen(): Promise<void> {
    const server = net.createServer({ allowHalfOpen: false, noDelay: true }, (socket) => this.accept(socket));
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
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    const { options } = this;
    if (this.sockets.size >= options.maxConnections) {
      // Closed unread. One line per episode, not per connection: a flood would flood the log.
      options.rejected.inc();
      if (this.overCap++ === 0) {
        options.logger.error(`Connection from socket refused: ${this.sockets.size} connections already open (maxConnections ${options.maxConnections}); further refusals are counted, not logged, until one closes`);
      }
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    // The peer's address costs a getpeername() call: only fetch it for a log line.
    let peer: string | undefined;
    const from = (): string => (peer ??= `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`);
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const release = (): void => {
      this.buffered -= size;
      size = 0;
      chunks.length = 0;
    };
    const finish = (data: Buffer): void => {
      done = true;
      clearTimeout(deadline);
      release();
      // §3.2: nothing is written back; FIN once the message is taken (journaled, for a command).
      let ended = false;
      this.handle(data, from, () => {
        if (ended) return;
        ended = true;
        socket.end();
      });
    };
    const deadline = setTimeout(() => {
      if (!done) {
        done = true;
        this.refuse(`Connection from socket ${from()} stalled: no complete message within ${options.messageTimeoutMs} ms (${size} bytes read); closed`);
      }
      release();
      socket.destroy();
    }, options.messageTimeoutMs);
    socket.on('data', (chunk: Buffer) => {
      if (done) return; // §3.2: anything after the first LF is discarded.
      const lf = chunk.indexOf(LF);
      if (lf >= 0) {
        chunks.push(lf === chunk.length - 1 ? chunk : chunk.subarray(0, lf + 1));
        finish(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
        return;
      }
      if (size + chunk.length > options.maxMessageBytes) {
        done = true;
        clearTimeout(deadline);
        this.refuse(`Message from socket ${from()} refused: longer than maxMessageBytes (${options.maxMessageBytes} bytes); connection closed`);
        release();
        socket.destroy();
        return;
      }
      if (this.buffered + chunk.length > options.maxBufferedBytes) {
        done = true;
        clearTimeout(deadline);
        this.refuse(`Message from socket ${from()} refused: unfinished messages hold ${this.buffered} bytes, the listener's maxBufferedBytes is ${options.maxBufferedBytes}; connection closed`);
        release();
        socket.destroy();
        return;
      }
      size += chunk.length;
      this.buffered += chunk.length;
      chunks.push(chunk);
    });
    socket.on('end', () => {
      if (!done) finish(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    });
    socket.on('error', (error) => {
      // A reset after the message was read is the client's business, not an error of ours.
      if (!done && options.logger.isLevelEnabled('debug')) options.logger.debug({ err: error }, `socket ${from()}: ${error.message}`);
    });
    socket.on('close', () => {
      clearTimeout(deadline);
      if (!done) release();
      this.sockets.delete(socket);
      if (this.overCap > 0 && this.sockets.size < options.maxConnections) {
        options.logger.warn(`Command socket accepts connections again (${this.overCap} refused while ${options.maxConnections} were open)`);
        this.overCap = 0;
      }
    });
  }

  private handle(data: Buffer, from: () => string, done: () => void): void {
    let message: JeedomMessage;
    try {
      message = this.decode(data, from);
    } catch (error) {
      done();
      // Anything but a Refusal is a bug of ours; still one line, never out of the socket's callback.
      this.refuse(error instanceof Refusal ? error.message : `Message from socket ${from()} could not be read (${describeError(error)}); ignored`);
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
  private decode(data: Buffer, peer: () => string): JeedomMessage {
    if (data.length === 0) throw new Refusal(`Empty message from socket ${peer()} (connection closed without data); ignored`);
    if (!isUtf8(data)) throw new Refusal(`Invalid message from socket ${peer()}: not valid UTF-8 (${data.length} bytes); ignored`);
    const text = data.toString('utf8').trim();
    if (text.length === 0) throw new Refusal(`Empty message from socket ${peer()} (only whitespace); ignored`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new Refusal(`Invalid message from socket ${peer()}: not JSON (${(error as Error).message}): ${preview(text, this.options.apikey)}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Refusal(`Invalid message from socket ${peer()}: expected a JSON object, got ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}; ignored`);
    }
    // Checked before the key, as even the wrong-key line serializes the message.
    if (jsonDepthExceeds(parsed, MAX_DEPTH)) throw new Refusal(`Invalid message from socket ${peer()}: nested deeper than ${MAX_DEPTH} levels (${data.length} bytes); ignored`);
    const message = parsed as JeedomMessage;
    if (typeof message.apikey !== 'string') throw new Refusal(`Invalid or no apikey in message from socket ${peer()}; ignored`);
    // Constant time: compare equal-length digests, so neither length nor content leaks.
    if (!timingSafeEqual(digest(message.apikey), this.expected)) {
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

/** SHA-256 of the key: one-shot `crypto.hash` where Node has it (20.12+), about twice as fast. */
const digest: (value: string) => Buffer =
  typeof crypto.hash === 'function' ? (value) => crypto.hash('sha256', value, 'buffer') : (value) => createHash('sha256').update(value, 'utf8').digest();

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
