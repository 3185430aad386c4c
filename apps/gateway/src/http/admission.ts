import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '@patchbay/core';
import type { Metrics } from './metrics.js';

/** The HTTP server's admission defaults (issue 13.7); `gateway.http` overrides them. */
export const defaultHttpAdmission = {
  /** Open connections, upgraded WebSocket clients apart (the ws host caps those with `maxClients`). */
  maxConnections: 256,
  /** Complete request headers within this time from the connection's accept (or its previous request). */
  headersTimeoutMs: 10_000,
  /** The whole request within this time. */
  requestTimeoutMs: 30_000,
} as const;

export type HttpAdmission = { -readonly [K in keyof typeof defaultHttpAdmission]: number };

/**
 * How often Node checks the two timeouts. Its default (30 s) lets a silent connection hold a
 * slot for up to 40 s past a 10 s headersTimeout; once a second keeps the deadline a deadline.
 */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 1000;

/** A connection that has sent nothing for this long may be closed to admit a newcomer at the cap. */
const SILENT_EVICTABLE_MS = 1000;

/**
 * A connection cap on the HTTP server, with room for real clients under a flood: at the cap,
 * the oldest connection that has not sent a byte for a second or more is closed for the
 * newcomer; with none, the newcomer is closed unread. A connection trickling headers is left
 * to `headersTimeoutMs`. Node's own `maxConnections` only refuses, so a flood of silent
 * connections would lock every client out until the deadline.
 */
export function capConnections(server: Server, { maxConnections, logger, metrics }: { maxConnections: number; logger: Logger; metrics: Metrics }): void {
  const open = new Map<Socket, number>();
  const refused = metrics.counter('http_refused_connections_total', 'HTTP connections closed unread at gateway.http.maxConnections', {});
  const evicted = metrics.counter('http_evicted_connections_total', 'silent HTTP connections closed to admit a new one at gateway.http.maxConnections', {});
  let held = 0;
  server.on('connection', (socket: Socket) => {
    if (open.size >= maxConnections) {
      const silent = oldestSilent(open, Date.now() - SILENT_EVICTABLE_MS);
      if (silent) {
        evicted.inc();
        open.delete(silent);
        silent.destroy();
      } else {
        refused.inc();
        socket.destroy();
      }
      // One line per episode, the rest counted: a flood must not flood the log too.
      if (held++ === 0) logger.warn({ limit: maxConnections }, `HTTP: ${maxConnections} connections open (gateway.http.maxConnections); closing silent ones, else newcomers`);
      if (!silent) return;
    } else if (held > 0 && open.size < maxConnections - 1) {
      logger.warn(`HTTP: below gateway.http.maxConnections again (${held} connections closed at the cap)`);
      held = 0;
    }
    open.set(socket, Date.now());
    socket.once('close', () => open.delete(socket));
  });
  // An upgraded socket is the ws host's, under its own cap.
  server.on('upgrade', (_req: unknown, socket: Socket) => open.delete(socket));
}

function oldestSilent(open: ReadonlyMap<Socket, number>, acceptedBefore: number): Socket | undefined {
  // Map order is accept order: the first silent one is the oldest.
  for (const [socket, acceptedAt] of open) {
    if (acceptedAt > acceptedBefore) return undefined;
    if (socket.bytesRead === 0) return socket;
  }
  return undefined;
}
