import { topicLevelProblem } from '@patchbay/adapter-mqtt/internal';
import { z } from 'zod';

/** One topic level: the cluster's name and each gateway's id become one each. */
const level = z
  .string()
  .min(1)
  .max(64)
  .superRefine((value, ctx) => {
    const problem = topicLevelProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} ${problem}` });
    if (value.startsWith('$')) ctx.addIssue({ code: 'custom', message: 'must not start with "$" (reserved for the broker\'s own topics)' });
  });

/** A PEM given inline or as a file path; read at start (as for the MQTT host). */
const pem = z.string().min(1).max(64 * 1024);

/**
 * The gateway config's `cluster` section (issue 19.1). Without it the gateway runs alone.
 * The broker, TLS and credentials are given as for the MQTT host (`hosts[].options` of `mqtt`).
 */
export const clusterConfig = z
  .object({
    /** An MQTT 5 broker: `mqtt://host[:port]`, `mqtts://` (TLS), `ws://`/`wss://`. */
    url: z.string().regex(/^(mqtts?|wss?|tcp|ssl):\/\/[^\s]+$/, 'an mqtt://, mqtts://, ws:// or wss:// URL'),
    /** The installation's name: the first topic level of everything the cluster publishes. */
    name: level.default('patchbay-cluster'),
    /** This gateway's id in the cluster: unique among its gateways. Default: `gateway.name`. */
    gateway: level.optional(),
    username: z.string().min(1).max(1024).optional(),
    /** Never logged. */
    password: z.string().min(1).max(1024).optional(),
    tls: z
      .object({
        ca: pem.optional(),
        cert: pem.optional(),
        key: pem.optional(),
        rejectUnauthorized: z.boolean().default(true),
      })
      .strict()
      .optional(),
    /**
     * MQTT keep-alive, seconds. The broker publishes a vanished gateway's last will after 1.5
     * times this, which is how soon the others see its devices offline.
     */
    keepaliveSeconds: z.number().int().min(1).max(65_535).default(10),
    /** How long the broker keeps this gateway's session (subscriptions, queued commands) while it is away. */
    sessionExpirySeconds: z.number().int().min(0).max(4_294_967_295).default(24 * 3600),
    /** Wait between reconnect attempts, ms. */
    reconnectMs: z.number().int().min(100).max(600_000).default(1000),
    /** Largest message accepted from another gateway, bytes; bigger ones are dropped with one warning. */
    maxMessageBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(256 * 1024),
  })
  .strict();

/** The validated `cluster` section. */
export type ClusterConfig = z.output<typeof clusterConfig>;
/** The `cluster` section as written in a config file. */
export type ClusterConfigInput = z.input<typeof clusterConfig>;
