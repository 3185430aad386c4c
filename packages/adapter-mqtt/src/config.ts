import { z } from 'zod';
import { topicLevelProblem } from './protocol/topics.js';

/** A topic prefix of one or more levels: no wildcards, no empty level, not a `$` system topic. */
const topicPrefix = z
  .string()
  .min(1)
  .max(256)
  .superRefine((value, ctx) => {
    if (value.startsWith('$')) ctx.addIssue({ code: 'custom', message: 'must not start with "$" (reserved for the broker\'s own topics)' });
    for (const level of value.split('/')) {
      const problem = topicLevelProblem(level);
      if (problem) ctx.addIssue({ code: 'custom', message: `level ${JSON.stringify(level)} ${problem}` });
    }
  });

/** A PEM given inline or as a file path (`/etc/ssl/ca.pem`); read at start. */
const pem = z.string().min(1).max(64 * 1024);

/** Options of the `mqtt` adapter. `{}` runs an embedded broker on 127.0.0.1:1883 and connects to it. */
export const mqttConfig = z
  .object({
    /**
     * The broker: `mqtt://host[:port]`, `mqtts://host[:port]` (TLS), `ws://`/`wss://`. Absent: the
     * gateway runs a broker of its own (see `embedded`).
     */
    url: z
      .string()
      .regex(/^(mqtts?|wss?|tcp|ssl):\/\/[^\s]+$/, 'an mqtt://, mqtts://, ws:// or wss:// URL')
      .optional(),
    /** The embedded broker, used when `url` is absent. It speaks MQTT 3.1.1 only (aedes). */
    embedded: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        /** 0 picks a free port. */
        port: z.number().int().min(0).max(65_535).default(1883),
        /** Client connections at once; at the cap the oldest one without CONNECT (for 1 s or more) is closed for a newcomer, else the newcomer is. */
        maxConnections: z.number().int().min(1).max(10_000).default(64),
        /** A client's CONNECT must arrive within this time of its accept. */
        connectTimeoutMs: z.number().int().min(100).max(300_000).default(10_000),
        /** Every later packet must be complete within this time of its first byte (trickled bytes do not extend it). */
        packetTimeoutMs: z.number().int().min(100).max(3_600_000).default(30_000),
        /** Largest packet a client may announce, bytes; closed on its header. Default: the payload limit (max(maxCommandBytes, 256 KiB)) plus 64 KiB for the topic. */
        maxPacketBytes: z.number().int().min(1024).max(268_435_455).optional(),
      })
      .strict()
      .prefault({}),
    /** The first levels of every topic this adapter publishes and listens to. */
    baseTopic: topicPrefix.default('patchbay'),
    username: z.string().min(1).max(1024).optional(),
    /** Never logged (the gateway's logger redacts `password`, and this adapter never prints it). */
    password: z.string().min(1).max(1024).optional(),
    /** TLS material for `mqtts://`: PEM text, or a path to a PEM file. */
    tls: z
      .object({
        ca: pem.optional(),
        cert: pem.optional(),
        key: pem.optional(),
        /** Refuse a broker whose certificate does not verify (default); false only for tests. */
        rejectUnauthorized: z.boolean().default(true),
      })
      .strict()
      .optional(),
    /** The MQTT client id. It must stay the same across restarts for the persistent session. Default: `patchbay-<gateway>-<host id>`. */
    clientId: z.string().min(1).max(128).optional(),
    /** 5 (MQTT 5, with response topics) or 4 (MQTT 3.1.1). Default: 5 with `url`, 4 on the embedded broker. */
    protocolVersion: z.union([z.literal(4), z.literal(5)]).optional(),
    /** MQTT 5 session expiry, seconds: how long the broker keeps subscriptions and queued commands while the gateway is away. */
    sessionExpirySeconds: z.number().int().min(0).max(4_294_967_295).default(7 * 24 * 3600),
    /** MQTT keep-alive, seconds. */
    keepaliveSeconds: z.number().int().min(1).max(65_535).default(30),
    /** Wait between reconnect attempts, ms. */
    reconnectMs: z.number().int().min(100).max(600_000).default(1000),
    /** How booleans are written on state topics and read on `/set`. */
    booleanPayloads: z.enum(['ON/OFF', 'true/false']).default('ON/OFF'),
    /** Also publish every reply on `<base>/<device>/<channel>/set/result`, for MQTT 3.1.1 clients that have no response topic. */
    resultTopic: z.boolean().default(false),
    /** Largest `/set` payload accepted, bytes; bigger ones get a coded error. */
    maxCommandBytes: z.number().int().min(16).max(1024 * 1024).default(64 * 1024),
    /** Commands waiting for their reply at once; more are answered at once with a failed reply. */
    maxPendingCommands: z.number().int().min(1).max(100_000).default(1024),
    /** Home Assistant discovery. */
    discovery: z
      .object({
        enabled: z.boolean().default(true),
        prefix: topicPrefix.default('homeassistant'),
      })
      .strict()
      .default({ enabled: true, prefix: 'homeassistant' }),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.url === undefined && config.protocolVersion === 5) {
      ctx.addIssue({ code: 'custom', path: ['protocolVersion'], message: 'the embedded broker (no url) speaks MQTT 3.1.1 only: use 4, or give the url of an MQTT 5 broker such as mosquitto' });
    }
  });

/** Validated options of the `mqtt` adapter. */
export type MqttConfig = z.output<typeof mqttConfig>;

/** The topic-level rule these options are checked with, for packages that check their own levels the same way. */
export { topicLevelProblem } from './protocol/topics.js';
