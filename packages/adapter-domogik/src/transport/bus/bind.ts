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

/** The port of a `tcp://host:port` endpoint. */
export function portOf(endpoint: string): number {
  return Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
}
