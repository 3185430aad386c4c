import { mqttConfig, topicLevelProblem } from '@patchbay/adapter-mqtt/config';
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

/**
 * The gateway config's `cluster` section (issue 19.1). Without it the gateway runs alone.
 * The broker, TLS and credentials are given as for the MQTT host (`hosts[].options` of `mqtt`).
 */
export const clusterConfig = z
  .object({
    /** An MQTT 5 broker: `mqtt://host[:port]`, `mqtts://` (TLS), `ws://`/`wss://`. */
    url: mqttConfig.shape.url.unwrap(),
    /** The installation's name: the first topic level of everything the cluster publishes. */
    name: level.default('patchbay-cluster'),
    /** This gateway's id in the cluster: unique among its gateways. Default: `gateway.name`. */
    gateway: level.optional(),
    // Credentials and TLS material as for the MQTT host (never logged).
    username: mqttConfig.shape.username,
    password: mqttConfig.shape.password,
    tls: mqttConfig.shape.tls,
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
