import { describeError, ErrorCodes, PatchbayError, type Counter, type Logger } from '@patchbay/core';
import { chmodSync, lstatSync, statSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { formatAddress, type SocketAddress } from './address.js';
import { decodeRequest, encodeResponse, GREETER, LineSplitter } from './framing.js';
import type { RpcEngine } from './rpcEngine.js';

/** Options of {@link ComodojoServer}. */
export interface ComodojoServerOptions {
  address: SocketAddress;
  /** File mode of a unix socket (default 0600). */
  socketMode: number;
  maxConnections: number;
  maxFrameBytes: number;
  /** A partial frame not finished within this many ms closes its connection (§8 item 41). */
  frameTimeoutMs: number;
  engine: RpcEngine;
  logger: Logger;
  counters: { connections: Counter; rejected: Counter; badFrames: Counter; requests: Counter };
}

// Per-connection back-pressure: stop reading while this much is queued or unsent.
const MAX_PIPELINED = 64;
const MAX_UNSENT_BYTES = 4 * 1024 * 1024;

/**
 * The comodojo daemon socket (protocols/comodojo.md §1): greeter on connect, one response per
 * request frame in request order, persistent connections, every connection served at once.
 */
export class ComodojoServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private bound: SocketAddress | undefined;
  /** Inode of the unix socket file we created, so stop() never unlinks another instance's file. */
  private socketIno: number | undefined;
  private nextId = 1;

  constructor(private readonly options: ComodojoServerOptions) {}

  /** The bound address as a URI (the real port when 0 was asked for). */
  address(): string | undefined {
    return this.bound ? formatAddress(this.bound) : undefined;
  }

  async start(): Promise<void> {
    const { address } = this.options;
    if (address.kind === 'unix') await this.clearStaleSocket(address.path);
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) =>
        reject(new PatchbayError(ErrorCodes.START_FAILED, `cannot listen on ${formatAddress(address)}: ${describeError(error)}`, { cause: error, context: { socket: formatAddress(address) } })),
      );
      if (address.kind === 'unix') server.listen(address.path, () => resolve());
      else server.listen({ host: address.host, port: address.port }, () => resolve());
    });
    server.on('error', (error) => this.options.logger.error({ err: error }, `comodojo socket error: ${describeError(error)}`));
    this.server = server;
    if (address.kind === 'unix') {
      chmodSync(address.path, this.options.socketMode);
      this.socketIno = statSync(address.path).ino;
      this.bound = address;
    } else {
      const info = server.address();
      this.bound = { kind: 'tcp', host: address.host, port: typeof info === 'object' && info ? info.port : address.port };
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    const address = this.options.address;
    if (address.kind === 'unix' && this.socketIno !== undefined) {
      // Node unlinks the file on close; make sure, but only if it is still ours (§6.2).
      try {
        if (statSync(address.path).ino === this.socketIno) unlinkSync(address.path);
      } catch {
        // already gone
      }
    }
    this.socketIno = undefined;
    this.bound = undefined;
  }

  /**
   * §1.1/§6.2: a stale socket file is removed; a live one (another instance answers) refuses
   * the start and leaves the file alone.
   */
  private async clearStaleSocket(path: string): Promise<void> {
    let isSocket: boolean;
    try {
      isSocket = lstatSync(path).isSocket();
    } catch {
      return; // nothing there
    }
    if (!isSocket) throw new PatchbayError(ErrorCodes.START_FAILED, `${path} exists and is not a socket; refusing to replace it`, { context: { path } });
    const live = await new Promise<boolean>((resolve) => {
      const probe = connect(path);
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (live) throw new PatchbayError(ErrorCodes.START_FAILED, `another instance is live on unix://${path}; refusing to start`, { context: { path } });
    unlinkSync(path);
    this.options.logger.info({ path }, `removed stale comodojo socket file ${path}`);
  }

  private accept(socket: Socket): void {
    const { logger, counters } = this.options;
    if (this.sockets.size >= this.options.maxConnections) {
      counters.rejected.inc();
      logger.warn({ limit: this.options.maxConnections }, `comodojo: refused a connection, already ${this.sockets.size} open (maxConnections)`);
      socket.destroy();
      return;
    }
    counters.connections.inc();
    this.sockets.add(socket);
    new Connection(socket, this.nextId++, this.options).start(() => this.sockets.delete(socket));
  }
}

/** A response frame ready to write, and what to run once it is written. */
interface Answer {
  text: string;
  after: (() => void)[];
}

/** One client connection: split lines, answer each frame, write answers in request order. */
class Connection {
  private readonly splitter: LineSplitter;
  private readonly pending: Promise<Answer>[] = [];
  private flushing = false;
  private closing = false;
  private stallTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly id: number,
    private readonly options: ComodojoServerOptions,
  ) {
    this.splitter = new LineSplitter(options.maxFrameBytes);
  }

  start(onClose: () => void): void {
    const { socket } = this;
    socket.setNoDelay(true);
    socket.on('error', () => undefined); // a reset peer: 'close' follows
    socket.on('close', () => {
      clearTimeout(this.stallTimer);
      this.closing = true;
      onClose();
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.maybeResume());
    // §1.2: the greeter goes out at once; the client sends nothing first.
    socket.write(GREETER);
  }

  private warn(reason: string, context: Record<string, unknown> = {}): void {
    this.options.counters.badFrames.inc();
    this.options.logger.warn({ connection: this.id, ...context }, `comodojo: connection ${this.id}: ${reason}`);
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    let lines: string[];
    try {
      lines = this.splitter.push(chunk);
    } catch (error) {
      // §1.3: unterminated input past the limit closes the connection.
      this.warn(`${describeError(error)}; closing`);
      this.closing = true;
      this.socket.end(encodeResponse({ status: false, message: 'Frame too large' }));
      return;
    }
    for (const line of lines) {
      if (line === '') {
        // §1.3: a blank line is a hangup: no response; close once earlier answers are out.
        this.closing = true;
        void this.closeAfterPending();
        break;
      }
      this.pending.push(this.answer(line));
    }
    this.armStallTimer();
    if (this.pending.length > MAX_PIPELINED) this.socket.pause();
    void this.flush();
  }

  /** §8 item 41: a partial frame left unfinished for too long is a stalled client. */
  private armStallTimer(): void {
    if (this.splitter.buffered === 0) {
      clearTimeout(this.stallTimer);
      this.stallTimer = undefined;
    } else if (!this.stallTimer) {
      this.stallTimer = setTimeout(() => {
        this.warn(`partial frame (${this.splitter.buffered} bytes) stalled for ${this.options.frameTimeoutMs} ms; closing`);
        this.socket.destroy();
      }, this.options.frameTimeoutMs);
      this.stallTimer.unref();
    }
  }

  private async answer(line: string): Promise<Answer> {
    this.options.counters.requests.inc();
    let frame;
    try {
      frame = decodeRequest(line);
    } catch (error) {
      // §1.7: an input failure outside RPC semantics is status false with a short text.
      const reason = describeError(error);
      this.warn(`bad request frame: ${reason}`);
      return { text: encodeResponse({ status: false, message: `Bad request frame: ${reason}` }), after: [] };
    }
    const after: (() => void)[] = [];
    const response = await this.options.engine.handle(frame, { afterResponse: (fn) => after.push(fn) });
    return { text: encodeResponse(response), after };
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    while (this.pending.length > 0) {
      const { text, after } = await (this.pending[0] as Promise<Answer>);
      this.pending.shift();
      if (this.socket.destroyed) continue;
      this.socket.write(text, after.length === 0 ? undefined : () => after.forEach((fn) => fn()));
      if (this.socket.writableLength > MAX_UNSENT_BYTES) this.socket.pause();
    }
    this.flushing = false;
    this.maybeResume();
  }

  private maybeResume(): void {
    if (!this.closing && this.socket.isPaused() && this.pending.length <= MAX_PIPELINED && this.socket.writableLength < MAX_UNSENT_BYTES) this.socket.resume();
  }

  private async closeAfterPending(): Promise<void> {
    await Promise.allSettled(this.pending);
    while (this.flushing || this.pending.length > 0) await new Promise((resolve) => setImmediate(resolve));
    this.socket.end();
  }
}
