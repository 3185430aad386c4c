import { z } from 'zod';
import { parseAddress } from './transport/address.js';
import { describeError } from '@patchbay/core';

/** Options of the `comodojo` adapter. */
export const comodojoConfig = z
  .object({
    /** `unix:///path/daemon.sock` or `tcp://HOST[:PORT]` (protocols/comodojo.md §1.1; port 0 = any free port). */
    socket: z
      .string()
      .default('tcp://127.0.0.1:10042')
      .superRefine((value, ctx) => {
        try {
          parseAddress(value);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: describeError(error) });
        }
      }),
    /** File mode of a unix socket, e.g. 0o600 or "0600". */
    socketMode: z
      .union([z.number().int().min(0).max(0o777), z.string().regex(/^0?[0-7]{3}$/, 'an octal mode such as "0600"').transform((s) => parseInt(s, 8))])
      .default(0o600),
    /** Connections served at once; more are closed at once (reference default 10, §6.1). */
    maxConnections: z.number().int().min(1).max(10_000).default(64),
    /** Longest request frame accepted; the spec asks for at least 16 MiB (§1.3), the default. */
    maxFrameBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(16 * 1024 * 1024),
    /**
     * Unanswered input the listener holds across all its connections (partial frames and
     * frames being handled; each connection's first 64 KiB is free). A connection that would
     * pass it gets "Server busy" and is closed. Two frames of the largest size by default.
     */
    maxBufferedBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(32 * 1024 * 1024),
    /**
     * A connection that completes no frame within this many ms of its accept or of its
     * previous frame is closed; trickled bytes do not extend it.
     */
    frameTimeoutMs: z.number().int().min(10).max(3_600_000).default(30_000),
    /** Pre-shared key for the optional 2018 payload encryption (§1.9); absent = off. */
    encryptionKey: z.string().min(1).optional(),
    /** Let `daemon.shutdown` stop the gateway (default: it answers error 4010). */
    allowShutdown: z.boolean().default(false),
  })
  .strict();

/** The validated options. */
export type ComodojoConfig = z.output<typeof comodojoConfig>;
