import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';

/** Where the reference daemon listens: `<configdir>/TracimDaemon/master.sock` (protocols/tracim.md §9). */
export const defaultMasterSocketPath = '~/.config/TracimDaemon/master.sock';

/**
 * The absolute socket path for a configured one: a leading `~` is the home directory (so
 * configs can use the reference paths as written) and a relative path is resolved against the
 * gateway's working directory. Peers dial back to the `path` we announce, and a relative one
 * would be resolved against *their* cwd (protocols/tracim.md §2.7).
 */
export function expandHome(path: string): string {
  if (path === '~') return homedir();
  return resolve(path.startsWith('~/') ? join(homedir(), path.slice(2)) : path);
}

// sun_path holds at most 107 bytes plus a NUL (§2.7).
const socketPath = z
  .string()
  .min(1)
  .refine((p) => Buffer.byteLength(expandHome(p)) <= 107, { message: 'is longer than the 107 bytes a Unix socket path can hold (once made absolute)' });

/** Octal file mode, given as a number (0o600 = 384) or an octal string ("0600"). */
const fileMode = z.union([z.number().int().min(0).max(0o777), z.string().regex(/^0?[0-7]{3}$/).transform((s) => Number.parseInt(s, 8))]);

/** TLM ingestion: the Tracim account whose live messages are relayed to the clients (§8.1). */
export const tracimAccountConfig = z
  .object({
    /** API base, including `/api`, through Pushpin (§8.1). */
    url: z.url(),
    username: z.string().optional(),
    mail: z.string().optional(),
    password: z.string(),
    /** Reconnect when the stream sends nothing for this long, in ms; Pushpin's keep-alives come every 30 s (default 75 s). */
    idleTimeoutMs: z.number().int().min(100).max(3_600_000).optional(),
  })
  .strict()
  .refine((a) => Boolean(a.username) || Boolean(a.mail), { message: 'needs "username" or "mail"' });

/** Options of the `tracim` adapter. */
export const tracimConfig = z
  .object({
    /** `master` replaces TracimDaemon; `client` registers with an existing master. */
    mode: z.enum(['master', 'client']).default('master'),
    /** Master mode: the master socket (the reference default, so SDK clients work unchanged). */
    socketPath: socketPath.default(defaultMasterSocketPath),
    /** Master mode: permissions of the master socket (§10: restrict; 0660 lets a group in). */
    socketMode: fileMode.default(0o600),
    /** Master mode: keep-alive period in ms (the reference ticks every 30 s, §6.3). */
    pingInterval: z.number().int().min(20).max(3_600_000).default(30_000),
    /** Master mode: `daemon_account_info.user_id` when no Tracim account is configured (§10). */
    userId: z.string().regex(/^\d+$/, 'must be a string of digits').default('0'),
    /** Messages over 4096 bytes: shrink the TLM, skip it, or send it whole like the reference (§10). */
    sizePolicy: z.enum(['shrink', 'skip', 'verbatim']).default('shrink'),
    /** Most messages waiting for one client; beyond it the oldest state message is dropped (counted, logged), never a reply, ack or pong. */
    maxQueuedPerClient: z.number().int().min(16).max(1_000_000).optional(),
    /** Deprecated name of `maxQueuedPerClient` (it bounds one client's messages, not the core's replies). */
    maxQueue: z.number().int().min(16).max(1_000_000).optional(),
    /**
     * A client with more messages than this waiting (a slow handler) gets the latest state
     * per device and channel, as an unreachable one does, instead of ever older state.
     */
    coalesceAfter: z.number().int().min(1).max(1_000_000).default(64),
    /** Master mode: where the TLM `event_id` counter is kept (default: beside the master socket). */
    eventIdFile: z.string().min(1).optional(),
    /** Inbound: read one message to EOF within this time of the connect, however it trickles (§10: about 5 s). */
    readTimeoutMs: z.number().int().min(10).max(60_000).default(5000),
    /** Open inbound connections on the master socket (master mode) or the client socket (client mode); at the cap the one idle longest (1 s or more) is closed for a newcomer, else the newcomer is. */
    maxConnections: z.number().int().min(1).max(65_536).default(64),
    /** Bytes of unfinished inbound messages over all connections of the listening socket; the one crossing it is closed (at least one whole 64 KiB message; in client mode a TLM may take up to 1 MiB). */
    maxBufferedBytes: z.number().int().min(64 * 1024).max(1024 * 1024 * 1024).default(2 * 1024 * 1024),
    /** Outbound: connect, write, and see the peer close within this time (§10: about 10 s). */
    sendTimeoutMs: z.number().int().min(10).max(120_000).default(10_000),
    /** Master mode: optional Tracim account whose live messages are relayed (§8.1). */
    tracim: tracimAccountConfig.optional(),
    /** Client mode: the master to register with. */
    masterSocketPath: socketPath.default(defaultMasterSocketPath),
    /** Client mode: this adapter's own listening socket. */
    clientSocketPath: socketPath.default('~/.config/Patchbay/tracim-client.sock'),
    /** Client mode: register again when no ping came for this long (§10: 75 s). */
    watchdogMs: z.number().int().min(20).max(3_600_000).default(75_000),
  })
  .strict()
  .transform(({ maxQueue, maxQueuedPerClient, ...config }) => {
    /** Deprecation notes for the adapter to log once at start. */
    const deprecated: string[] = [];
    if (maxQueue !== undefined) {
      deprecated.push(
        maxQueuedPerClient === undefined
          ? `option "maxQueue" is deprecated: it is now "maxQueuedPerClient" (messages waiting per Tracim client); using ${maxQueue}`
          : `option "maxQueue" is deprecated and ignored: "maxQueuedPerClient" is set too`,
      );
    }
    return { ...config, maxQueuedPerClient: maxQueuedPerClient ?? maxQueue ?? 10_000, deprecated };
  });

/** Validated options of the `tracim` adapter. */
export type TracimConfig = z.output<typeof tracimConfig>;
