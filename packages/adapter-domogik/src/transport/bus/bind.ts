import type { Socket } from 'zeromq';

/**
 * Binds `endpoint` and returns the bound endpoint with its real port. Port 0 (or `*`) picks a
 * free port. A port just released by a previous run of the bus may still be held for a moment
 * (zeromq closes asynchronously), so EADDRINUSE is retried briefly before giving up.
 */
export async function bindWithRetry(socket: Socket, endpoint: string, attempts = 20): Promise<string> {
  const target = endpoint.replace(/:0$/, ':*');
  for (let attempt = 1; ; attempt++) {
    try {
      await socket.bind(target);
      return socket.lastEndpoint ?? target;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== 'EADDRINUSE' || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** What the embedded bus's TCP listeners hold a peer to (issue 13.7). */
export interface ListenerLimits {
  /** Largest message part a peer may send, bytes; libzmq disconnects a peer sending a bigger one (ZMQ_MAXMSGSIZE). */
  maxMessageBytes?: number;
  /** The ZMTP handshake must be done within this time of the connect (ZMQ_HANDSHAKE_IVL). */
  handshakeTimeoutMs?: number;
  /** Most admitted TCP connections at once on each port (refused by the ZAP handler beyond); handshakes in progress are bounded by `handshakeTimeoutMs`. */
  maxConnections?: number;
}

/**
 * The embedded bus's defaults: Domogik's messages are small JSON; libzmq's own are no size limit
 * and 30 s, and no connection cap. Domogik's clients open one REQ socket per request, so the cap
 * leaves room for bursts of those beside every component's long-lived sockets.
 */
export const defaultListenerLimits = { maxMessageBytes: 1024 * 1024, handshakeTimeoutMs: 10_000, maxConnections: 256 } as const;

/** zeromq socket options for {@link ListenerLimits}. */
export function listenerOptions(limits: ListenerLimits = {}): { maxMessageSize: number; handshakeInterval: number } {
  return { maxMessageSize: limits.maxMessageBytes ?? defaultListenerLimits.maxMessageBytes, handshakeInterval: limits.handshakeTimeoutMs ?? defaultListenerLimits.handshakeTimeoutMs };
}

/** The connection cap of {@link ListenerLimits}. */
export function connectionCap(limits: ListenerLimits = {}): number {
  return limits.maxConnections ?? defaultListenerLimits.maxConnections;
}

/** The port of a `tcp://host:port` endpoint. */
export function portOf(endpoint: string): number {
  return Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
}
