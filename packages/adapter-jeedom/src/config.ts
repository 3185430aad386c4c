import { z } from 'zod';

/** Options of the `jeedom` adapter (protocols/jeedom.md §2.2 names in brackets). */
export const jeedomConfig = z
  .object({
    /** TCP port of the command socket [`--socketport`]; 0 picks a free one (tests). */
    socketPort: z.number().int().min(0).max(65535).default(55009),
    /** Interface to bind [`--sockethost`]: an IPv4 literal; "localhost" means 127.0.0.1, "" all interfaces (§3.1). */
    socketHost: z
      .string()
      .default('127.0.0.1')
      .transform((host) => (host === 'localhost' ? '127.0.0.1' : host === '' ? '0.0.0.0' : host)),
    /** The plugin's API key [`--apikey`]; both directions use it (§5). */
    apikey: z.string().min(1, 'the plugin API key is required (Jeedom passes it as --apikey)'),
    /** The callback script URL [`--callback`]. Absent: the command socket works, nothing goes up. */
    callback: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
    /** Seconds between flushes [`--cycle`]; 0 or less posts every change at once (§4.5). */
    cycle: z.number().default(0.3),
    /**
     * Longest downward message accepted, bytes. The reference has no limit and Jeedom's messages are a few
     * hundred bytes; §10.24 wants a 1 MiB message processed, so the default is that plus room for its envelope.
     */
    maxMessageBytes: z.number().int().min(1024).default(1024 * 1024 + 64 * 1024),
    /**
     * A downward connection whose message is not complete this long after it opened is closed,
     * ms (§3.2: ≥ 10 s). A deadline from the connect: a trickle of bytes does not extend it.
     */
    messageTimeoutMs: z.number().int().min(1).optional(),
    /** Deprecated name of `messageTimeoutMs` (it was an idle timer, which a trickle kept open). */
    idleTimeoutMs: z.number().int().min(1).optional(),
    /** Downward connections open at once; more are closed unread (PHP opens one per message and closes it at once). */
    maxConnections: z.number().int().min(1).default(64),
    /** Bytes that unfinished downward messages may hold together; the connection that would pass it is closed. */
    maxBufferedBytes: z.number().int().min(1024).default(16 * 1024 * 1024),
    /** Send the start-up `GET` test (§4.2). Jeedom launch mode runs it itself before starting. */
    callbackTest: z.boolean().default(true),
    /** Per-attempt HTTP timeouts and the pause after a failed attempt, ms (§4.4). */
    http: z
      .object({
        connectTimeoutMs: z.number().int().min(1).default(500),
        responseTimeoutMs: z.number().int().min(1).default(120_000),
        retryDelayMs: z.number().int().min(0).default(500),
      })
      .prefault({}),
  })
  .strict()
  .transform(({ idleTimeoutMs, messageTimeoutMs, ...rest }) => ({ ...rest, messageTimeoutMs: messageTimeoutMs ?? idleTimeoutMs ?? 30_000 }));

/** Validated options of the `jeedom` adapter. */
export type JeedomConfig = z.output<typeof jeedomConfig>;
