import { describeError, ErrorCodes, PatchbayError, type Counter } from '@patchbay/core';
import { chmodSync, lstatSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { formatAddress, type SocketAddress } from './address.js';
import { Connection, type ConnectionOptions } from './connection.js';

/** Options of {@link ComodojoServer}: where to listen and how many to serve, beside what each connection needs. */
export interface ComodojoServerOptions extends ConnectionOptions {
  address: SocketAddress;
  /** File mode of a unix socket (default 0600). */
  socketMode: number;
  maxConnections: number;
  counters: ConnectionOptions['counters'] & { connections: Counter; rejected: Counter; evicted: Counter };
  /** Told the number of open connections whenever it changes. */
  onConnections?(open: number): void;
}

/**
 * `context.reason` of a start failure that a restart cannot fix (the socket's directory cannot
 * be made or written): the adapter stops the host once, with the message, instead of looping.
 */
export const SOCKET_PATH_UNUSABLE = 'socket-path-unusable';

/** Errors of mkdir/listen on a unix path that stay the same on every retry. */
const PERMANENT_PATH_ERRORS: ReadonlySet<string> = new Set(['EACCES', 'EPERM', 'ENOTDIR', 'EROFS', 'ENAMETOOLONG', 'ELOOP']);

function pathUnusable(path: string, what: string, error: unknown): PatchbayError {
  const code = (error as NodeJS.ErrnoException).code ?? 'error';
  const why = code === 'EACCES' || code === 'EPERM' ? `permission denied for uid ${process.getuid?.() ?? '?'}` : code === 'ENOTDIR' || code === 'EEXIST' ? 'a part of the path exists and is not a directory' : code === 'EROFS' ? 'the file system is read-only' : describeError(error);
  return new PatchbayError(ErrorCodes.START_FAILED, `cannot ${what} for the comodojo socket unix://${path}: ${why} (${code}). Fix the directory (its permissions, or what is in its place) or choose another socket path.`, {
    cause: error,
    context: { path, reason: SOCKET_PATH_UNUSABLE },
  });
}

/** At the connection cap, only a connection idle (no frame, nothing being answered) this long is closed for a newcomer. */
const EVICT_IDLE_MS = 1000;


/**
 * The comodojo daemon socket (protocols/comodojo.md §1): greeter on connect, one response per
 * request frame in request order, persistent connections, every connection served at once.
 */
export class ComodojoServer {
  private server: Server | undefined;
  private readonly connections = new Set<Connection>();
  /** Bytes drawn on the listener's budget, across connections. */
  private readonly budget = { used: 0, peak: 0 };
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
    if (address.kind === 'unix') {
      // Issue 13.12: a missing directory is created, private (0700), as the Tracim adapter does;
      // listening in one that does not exist would fail with a misleading EACCES.
      try {
        mkdirSync(dirname(address.path), { recursive: true, mode: 0o700 });
      } catch (error) {
        throw pathUnusable(address.path, `create the directory ${dirname(address.path)}`, error);
      }
      await this.clearStaleSocket(address.path);
    }
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => {
        if (address.kind === 'unix' && PERMANENT_PATH_ERRORS.has((error as NodeJS.ErrnoException).code ?? '')) {
          reject(pathUnusable(address.path, `create the socket file in ${dirname(address.path)}`, error));
          return;
        }
        reject(new PatchbayError(ErrorCodes.START_FAILED, `cannot listen on ${formatAddress(address)}: ${describeError(error)}`, { cause: error, context: { socket: formatAddress(address) } }));
      });
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
    for (const connection of this.connections) connection.destroy();
    this.connections.clear();
    await this.options.decoder.stop();
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

  /** Open connections (for health and tests). */
  get open(): number {
    return this.connections.size;
  }

  /** Input held across connections, bytes drawn on the budget (for tests and metrics). */
  get buffered(): number {
    return this.budget.used;
  }

  /** The most input held at once since start. */
  get peakBuffered(): number {
    return this.budget.peak;
  }

  private accept(socket: Socket): void {
    const { logger, counters } = this.options;
    if (this.connections.size >= this.options.maxConnections) {
      // Connections that send nothing must not lock real clients out: the one idle longest
      // makes room, if it has been idle a while; otherwise the newcomer is refused.
      const idlest = this.idlest();
      if (idlest) {
        counters.evicted.inc();
        logger.warn(
          { limit: this.options.maxConnections, connection: idlest.id },
          `comodojo: ${this.connections.size} connections open (maxConnections); closed connection ${idlest.id}, idle for ${Date.now() - idlest.lastFrameAt} ms, to serve a new one`,
        );
        idlest.destroy();
        this.connections.delete(idlest);
      } else {
        counters.rejected.inc();
        logger.warn({ limit: this.options.maxConnections }, `comodojo: refused a connection, already ${this.connections.size} open and busy (maxConnections)`);
        socket.destroy();
        return;
      }
    }
    counters.connections.inc();
    const connection = new Connection(socket, { id: this.nextId++, options: this.options, budget: this.budget });
    this.connections.add(connection);
    this.options.onConnections?.(this.connections.size);
    connection.start(() => {
      if (this.connections.delete(connection)) this.options.onConnections?.(this.connections.size);
    });
  }

  private idlest(): Connection | undefined {
    let found: Connection | undefined;
    const now = Date.now();
    for (const connection of this.connections) {
      if (!connection.idle || now - connection.lastFrameAt < EVICT_IDLE_MS) continue;
      if (!found || connection.lastFrameAt < found.lastFrameAt) found = connection;
    }
    return found;
  }
}
