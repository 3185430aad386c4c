import { z } from 'zod';

/** Options of the `teleinfo` driver. */
export const teleinfoConfig = z
  .object({
    /** The serial device of the Teleinfo modem (`/dev/ttyUSB0`, `/dev/ttyAMA0`). */
    path: z.string().min(1),
    /** `historic` (1200 baud, every meter) or `standard` (9600 baud, Linky in standard mode). */
    mode: z.enum(['historic', 'standard']).default('historic'),
    /** Defaults to the mode's: 1200 (historic) or 9600 (standard). */
    baudRate: z.number().int().positive().optional(),
    /** Teleinfo is 7 data bits, even parity, 1 stop bit; change only for an odd modem. */
    dataBits: z.union([z.literal(7), z.literal(8)]).default(7),
    parity: z.enum(['none', 'even', 'odd']).default('even'),
    /**
     * How group checksums are summed: 1 = up to the value (the historic mode's), 2 = the
     * separator before the checksum included (the standard mode's). Defaults to the mode's.
     */
    checksum: z.union([z.literal(1), z.literal(2)]).optional(),
    /** Only frames from the meter with this ADCO/ADSC are used (others are counted and dropped). */
    address: z.string().regex(/^\d{12}$/, 'a meter address is 12 digits').optional(),
    name: z.string().min(1).max(128).optional(),
    /** No good frame for this long makes the meter offline (a meter sends one every 1-2 s). */
    silenceMs: z.number().int().min(100).max(3_600_000).default(10_000),
    /** Reconnect back-off (ms, the last repeats), capped at 1 s so a returning modem is used within 2 s. */
    reconnect: z
      .object({
        delays: z.array(z.number().int().min(0).max(600_000)).min(1).default([100, 250, 500, 1000]),
        jitter: z.number().min(0).max(1).default(0.2),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** Validated options of the `teleinfo` driver. */
export type TeleinfoConfig = z.output<typeof teleinfoConfig>;
