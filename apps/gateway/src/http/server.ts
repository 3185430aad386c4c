import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Gateway, HttpHandler, HttpMount, Logger, UpgradeHandler } from '@patchbay/core';
import type { Metrics } from './metrics.js';
import { capConnections, CONNECTIONS_CHECKING_INTERVAL_MS, defaultHttpAdmission, type HttpAdmission } from './admission.js';

/**
 * The gateway's HTTP server on node:http. Routes are exact paths that adapters add and remove
 * at runtime (a restarted adapter mounts again), which static routers are not made for; the
 * handful of paths makes a map the whole router.
 */
export class GatewayHttp implements HttpMount {
  private readonly routes = new Map<string, HttpHandler>();
  private readonly upgrades = new Map<string, UpgradeHandler>();
  private readonly server: Server;
  private gateway: Pick<Gateway, 'health'> | undefined;

  constructor(
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    admission: Partial<HttpAdmission> = {},
  ) {
    const { maxConnections, headersTimeoutMs, requestTimeoutMs } = { ...defaultHttpAdmission, ...admission };
    this.server = createServer({ requestTimeout: requestTimeoutMs, headersTimeout: headersTimeoutMs, connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS }, (req, res) => this.handle(req, res));
    capConnections(this.server, { maxConnections, logger, metrics });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // node:http drops its own 'error' listener from a socket it hands over: without one, a client
      // resetting the connection (ECONNRESET) would be an uncaught exception ending the gateway.
      socket.on('error', (error: Error) => this.logger.debug({ err: error, path: pathOf(req) }, 'upgrade connection failed'));
      const handler = this.upgrades.get(pathOf(req));
      if (handler) return handler(req, socket, head);
      closeRefused(socket, 'HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    this.server.on('clientError', (error, socket) => {
      this.logger.debug({ err: error }, 'bad HTTP request');
      // A request whose headers did not arrive in time is a timeout (408, as Node answers without
      // this handler), not a malformed one: a client may try it again.
      const timedOut = (error as NodeJS.ErrnoException).code === 'ERR_HTTP_REQUEST_TIMEOUT';
      if (socket.writable) socket.end(timedOut ? 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n' : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
    this.route('/healthz', (_req, res) => {
      const health = this.gateway?.health();
      const body = JSON.stringify(health ?? { status: 'starting' });
      res.writeHead(health?.status === 'ok' ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(body);
    });
    this.route('/metrics', (_req, res) => void this.serveMetrics(res));
  }

  /**
   * The exposition as it is made, a slice of devices at a time, each chunk written as it comes
   * and the next one made once the scraper has taken the last (a scraper that stops reading
   * holds one chunk, not the whole text).
   */
  private async serveMetrics(res: ServerResponse): Promise<void> {
    const chunks = this.metrics.exposition();
    let chunk: IteratorResult<string>;
    try {
      chunk = await chunks.next();
    } catch (error) {
      this.logger.error({ err: error }, `GET /metrics failed: ${(error as Error).message}`);
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`metrics failed: ${(error as Error).message}`);
      return;
    }
    res.writeHead(200, { 'content-type': this.metrics.registry.contentType, 'cache-control': 'no-store' });
    try {
      for (; !chunk.done; chunk = await chunks.next()) {
        // A scraper gone while the chunk was made: stop making them ('close' has been and gone).
        if (res.destroyed) return void (await chunks.return(undefined));
        if (!res.write(chunk.value)) await drained(res);
      }
      res.end();
    } catch (error) {
      // The head is out: all that is left to say so is to cut the response short.
      this.logger.error({ err: error }, `GET /metrics failed part way: ${(error as Error).message}`);
      res.destroy(error as Error);
    }
  }

  /** Serve health from this gateway (or what adds to its health: the cluster section). */
  watch(gateway: Pick<Gateway, 'health'>): void {
    this.gateway = gateway;
  }

  route(path: string, handler: HttpHandler): () => void {
    this.routes.set(path, handler);
    return () => {
      if (this.routes.get(path) === handler) this.routes.delete(path);
    };
  }

  upgrade(path: string, handler: UpgradeHandler): () => void {
    this.upgrades.set(path, handler);
    return () => {
      if (this.upgrades.get(path) === handler) this.upgrades.delete(path);
    };
  }

  /** Listen; resolves with the bound address (port 0 picks a free one). */
  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const handler = this.routes.get(pathOf(req));
    if (!handler) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `no route for ${req.method} ${pathOf(req)}` }));
      return;
    }
    try {
      handler(req, res);
    } catch (error) {
      this.logger.error({ err: error, path: pathOf(req) }, `HTTP handler for ${pathOf(req)} failed`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error');
    }
  }
}

/** Time a refused client gets to read the answer and close before its connection is cut. */
const REFUSED_LINGER_MS = 1000;

/**
 * Answer a refused upgrade and close. The server keeps connections half-open, so `end` alone
 * would leave the socket to a client that never closes; the unref'd timer never holds up exit.
 */
function closeRefused(socket: Duplex, response: string): void {
  socket.end(response);
  const timer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Resolves once `res` can take more, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  if (res.destroyed || !res.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
