import { ChannelDescriptionSchema } from '@patchbay/core';
import { z } from 'zod';

/** Newline-delimited frames (the default), with a configurable delimiter. */
const delimiterFraming = z
  .object({
    type: z.literal('delimiter'),
    /** The bytes that end a frame, as text (`"\n"`, `"\r\n"`, `";"`). */
    delimiter: z.string().min(1).max(8).default('\n'),
  })
  .strict();

/** Length-prefixed binary frames: an unsigned big- or little-endian length, then the payload. */
const lengthFraming = z
  .object({
    type: z.literal('length'),
    /** Size of the length header in bytes. */
    lengthBytes: z.union([z.literal(1), z.literal(2), z.literal(4)]).default(2),
    endian: z.enum(['big', 'little']).default('big'),
  })
  .strict();

/** How bytes on the line are cut into frames. */
export const framingConfig = z.discriminatedUnion('type', [delimiterFraming, lengthFraming]);
export type FramingConfig = z.output<typeof framingConfig>;

/** How frames are turned into events and commands into frames. */
export const codecName = z.enum(['jsonl', 'kv']);
export type CodecName = z.output<typeof codecName>;

/** Options of the `serial` driver. */
export const serialConfig = z
  .object({
    /** The serial device (`/dev/ttyUSB0`) or a pseudo-terminal link made by socat. */
    path: z.string().min(1),
    baudRate: z.number().int().positive().default(115_200),
    dataBits: z.union([z.literal(5), z.literal(6), z.literal(7), z.literal(8)]).default(8),
    parity: z.enum(['none', 'even', 'odd', 'mark', 'space']).default('none'),
    stopBits: z.union([z.literal(1), z.literal(1.5), z.literal(2)]).default(1),
    /** Hardware flow control. */
    rtscts: z.boolean().default(false),
    /**
     * What the device is, for the hosts (a name, maker, model and how often it reports). With
     * `channels`, the gateway describes the device at start; a `jsonl` device may also send
     * its own description (`{"describe":{...}}`), which these settings override.
     */
    device: z
      .object({
        name: z.string().min(1).max(128).optional(),
        manufacturer: z.string().min(1).max(128).optional(),
        model: z.string().min(1).max(128).optional(),
        firmware: z.string().min(1).max(128).optional(),
        reportIntervalMs: z.number().int().positive().max(86_400_000).optional(),
      })
      .strict()
      .optional(),
    /** Each channel's kind, unit, range, class and writability (core's channel description). */
    channels: z.record(z.string().min(1).max(128), ChannelDescriptionSchema).optional(),
    framing: framingConfig.prefault({ type: 'delimiter' }),
    codec: codecName.default('jsonl'),
    /** Longest frame accepted; longer ones are dropped whole and counted. */
    maxFrameBytes: z.number().int().min(16).max(16 * 1024 * 1024).default(4096),
    /** How long the device has to answer a command before it fails naming the command. */
    commandTimeoutMs: z.number().int().min(1).max(600_000).default(2000),
    /** Frames held while the port is not draining; commands beyond this fail at once. */
    maxQueuedWrites: z.number().int().min(1).max(1_000_000).default(1000),
    /**
     * Reconnect back-off (ms, the last repeats). The default caps at 1 s so the driver is back
     * within 2 s of the port returning (issue 3).
     */
    reconnect: z
      .object({
        delays: z.array(z.number().int().min(0).max(600_000)).min(1).default([100, 250, 500, 1000]),
        jitter: z.number().min(0).max(1).default(0.2),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** Validated options of the `serial` driver. */
export type SerialConfig = z.output<typeof serialConfig>;
