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
  /** A connection that completes no message within this is closed (§3.2 SHOULD, ≥ 10 s). */
  idleTimeoutMs: number;
  logger: Logger;
  /** Counts every refused message (bad apikey, bad JSON, empty, too large, stalled). */
  rejected: Counter;
  /** Called synchronously for each accepted message, in the order messages complete. */
  onMessage(message: JeedomMessage): void;
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
    this.sockets.add(socket);
    // The peer's address costs a getpeername() call: only fetch it for a log line.
    let peer: string | undefined;
    const from = (): string => (peer ??= `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`);
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (data: Buffer): void => {
      done = true;
      // §3.2: nothing is written back; FIN as soon as the message is read.
      socket.end();
      this.handle(data, from);
    };
    socket.setTimeout(this.options.idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => {
      if (done) return; // §3.2: anything after the first LF is discarded.
      const lf = chunk.indexOf(LF);
      if (lf >= 0) {
        chunks.push(lf === chunk.length - 1 ? chunk : chunk.subarray(0, lf + 1));
        finish(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
        return;
      }
      size += chunk.length;
      if (size > this.options.maxMessageBytes) {
        done = true;
        this.refuse(`Message from socket ${from()} refused: longer than maxMessageBytes (${this.options.maxMessageBytes} bytes); connection closed`);
        socket.destroy();
        return;
      }
      chunks.push(chunk);
    });
    socket.on('end', () => {
      if (!done) finish(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    });
    socket.on('timeout', () => {
      if (!done) {
        done = true;
        this.refuse(`Connection from socket ${from()} stalled: no complete message within ${this.options.idleTimeoutMs} ms (${size} bytes read); closed`);
      }
      socket.destroy();
    });
    socket.on('error', (error) => {
      // A reset after the message was read is the client's business, not an error of ours.
      if (!done && this.options.logger.isLevelEnabled('debug')) this.options.logger.debug({ err: error }, `socket ${from()}: ${error.message}`);
    });
    socket.on('close', () => this.sockets.delete(socket));
  }

  private handle(data: Buffer, from: () => string): void {
    let message: JeedomMessage;
    try {
      message = this.decode(data, from);
    } catch (error) {
      // Anything but a Refusal is a bug of ours; still one line, never out of the socket's callback.
      this.refuse(error instanceof Refusal ? error.message : `Message from socket ${from()} could not be read (${describeError(error)}); ignored`);
      return;
    }
    try {
      this.options.onMessage(message);
    } catch (error) {
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
