import type { Logger } from '@patchbay/core';
import { Reply, type Socket } from 'zeromq';
import { AdmissionCount } from './admissionCount.js';
import { bindWithRetry } from './bind.js';

/**
 * A connection cap for the embedded bus's TCP listeners (issue 13.7). libzmq has no such option
 * and cannot close one chosen peer of a bound socket, but it asks a ZAP handler (RFC 27) about
 * every new TCP connection of a socket that has a ZAP domain, before the peer may send a
 * message: the handler refuses connections beyond the cap, and libzmq closes them. Each
 * listener counts the connections it approved, until they disconnect (admissionCount.ts), from
 * its socket's monitor events. inproc connections have no handshake, so the gateway's own
 * sockets are never counted.
 *
 * libzmq has one ZAP endpoint per context, so one handler serves every listener in the process,
 * each known by its own domain.
 */
interface Listener {
  name: string;
  maxConnections: number;
  logger: Logger;
  count: AdmissionCount;
  refused: number;
  /** When a refusal was last logged (epoch ms), so a flood logs once a minute. */
  loggedAt: number;
}

const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
const LOG_EVERY_MS = 60_000;

const listeners = new Map<string, Listener>();
/** The handler while any listener runs: its pending receive would keep the process alive, so it closes with the last. */
let handler: Promise<Reply> | undefined;
let sequence = 0;

/** A ZAP domain for a new listener; give it to the socket's options (`zapDomain`) before it binds. */
export function admissionDomain(): string {
  return `patchbay-domogik-${process.pid}-${++sequence}`;
}

/** Counts `socket`'s connections and refuses those beyond `maxConnections`; returns the function that stops it. */
export async function admit(socket: Socket, domain: string, options: { name: string; maxConnections: number; handshakeTimeoutMs: number; logger: Logger }): Promise<() => void> {
  const { name, maxConnections, handshakeTimeoutMs, logger } = options;
  const count = new AdmissionCount({ maxConnections, handshakeTimeoutMs });
  const listener: Listener = { name, maxConnections, logger, count, refused: 0, loggedAt: 0 };
  listeners.set(domain, listener);
  socket.events.on('handshake', () => count.handshakeSucceeded());
  for (const failed of ['handshake:error:auth', 'handshake:error:protocol', 'handshake:error:other'] as const) socket.events.on(failed, () => count.handshakeFailed());
  socket.events.on('disconnect', () => count.disconnected());
  handler ??= openHandler();
  try {
    await handler;
  } catch (error) {
    listeners.delete(domain);
    throw error;
  }
  return () => {
    listeners.delete(domain);
    if (listeners.size > 0 || !handler) return;
    const closing = handler;
    handler = undefined;
    void closing.then((reply) => reply.close(), () => undefined);
  };
}

async function openHandler(): Promise<Reply> {
  const reply = new Reply({ linger: 0 });
  try {
    // A handler just closed (the last bus stopped, another starts) frees its endpoint a moment later.
    await bindWithRetry(reply, ZAP_ENDPOINT);
  } catch (error) {
    reply.close();
    handler = undefined;
    throw error;
  }
  void serve(reply);
  return reply;
}

async function serve(reply: Reply): Promise<void> {
  try {
    // RFC 27 request: version, request id, domain, address, identity, mechanism, credentials...
    for await (const [version, requestId, domain, address] of reply) {
      // Monitor events come on another socket: one turn of the event loop lets in the disconnects
      // libzmq queued before this request, so a place freed just before is free for it.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const listener = listeners.get(domain?.toString('latin1') ?? '');
      // A domain we do not know (a listener being stopped) is admitted: refusing is only for the cap.
      const admitted = listener === undefined || listener.count.admit();
      if (!admitted) refusedOne(listener, address?.toString('latin1') ?? '?');
      await reply.send([version ?? '1.0', requestId ?? '', admitted ? '200' : '400', admitted ? 'OK' : 'too many connections', '', '']);
    }
  } catch {
    // Closed when the last listener stopped.
  }
}

function refusedOne(listener: Listener, address: string): void {
  listener.refused++;
  const now = Date.now();
  if (now - listener.loggedAt < LOG_EVERY_MS) return;
  const heldBack = listener.refused - 1;
  listener.loggedAt = now;
  listener.refused = 0;
  listener.logger.warn(
    `domogik bus: refused a connection from ${address} to the ${listener.name}: ${listener.maxConnections} connections already (domogik.busMaxConnections)${heldBack > 0 ? `; ${heldBack} more refused since the last line` : ''}`,
  );
}
