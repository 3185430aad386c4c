import { z } from 'zod';

/** Options of the `ws` adapter. Every field has a default: `{}` serves `/ws` and the page at `/`. */
export const wsConfig = z
  .object({
    /** Path of the WebSocket endpoint on the gateway's HTTP server. */
    path: z.string().regex(/^\/[^?#\s]*$/, 'a path starting with "/", without query or spaces').default('/ws'),
    /** Serve the status page (and its two assets); `false` serves the API alone. */
    page: z.boolean().default(true),
    /** Path of the status page. */
    pagePath: z.string().regex(/^\/[^?#\s]*$/, 'a path starting with "/", without query or spaces').default('/'),
    /**
     * When set, every client must present it at upgrade: `Authorization: Bearer <token>`, a
     * `bearer.<token>` subprotocol, or `?token=` (browsers can set neither header).
     */
    token: z.string().min(1).max(1024).optional(),
    /**
     * Origins (`https://example.org`) allowed to open the socket from a browser; `"*"` allows any.
     * Default: only pages served by the same host:port (guards against cross-site WebSocket hijacking),
     * and with no `token`, only under `localhost` or an IP address (guards against DNS rebinding).
     * Clients that send no Origin (non-browser) are not affected.
     */
    allowedOrigins: z.array(z.union([z.literal('*'), z.url()])).optional(),
    /** Largest message a client may send, bytes; bigger ones close the socket with 1009. */
    maxPayload: z.number().int().min(256).max(16 * 1024 * 1024).default(64 * 1024),
    /** A client whose unsent backlog exceeds this many bytes is dropped instead of growing memory. */
    maxBufferedBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(4 * 1024 * 1024),
    /** Most clients at once; more are refused with 503. */
    maxClients: z.number().int().min(1).max(100_000).default(1000),
    /** Most unanswered commands per client; more are answered at once with a failed reply. */
    maxPendingCommands: z.number().int().min(1).max(10_000).default(64),
    /** Most often a `health` message (what changed in queue depths, counts, statuses) is sent, ms; 0 turns it off. */
    healthIntervalMs: z.number().int().min(0).max(3_600_000).default(1000),
    /** A client whose unsent backlog has not moved for this long (it reads nothing) is dropped, ms; 0 turns it off. */
    stallTimeoutMs: z.number().int().min(0).max(3_600_000).default(15_000),
    /** Period of the keep-alive ping, ms; a client that misses a pong by the next one is dropped. 0 turns it off. */
    pingIntervalMs: z.number().int().min(0).max(3_600_000).default(30_000),
  })
  .strict();

/** Validated options of the `ws` adapter. */
export type WsConfig = z.output<typeof wsConfig>;
