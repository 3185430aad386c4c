import { defaultGatewayTimeouts, defaultInputBudgetBytes, defaultOutboxOptions } from '@patchbay/core';
import { clusterConfig } from '@patchbay/cluster/config';
import { defaultJournalOptions } from '@patchbay/journal';
import { z } from 'zod';
import { defaultHttpAdmission } from '../http/admission.js';

const idSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'ids are letters, digits, ".", "_" and "-", starting with a letter or digit');

/** The gateway's HTTP server defaults: localhost only. */
export const defaultHttp = { host: '127.0.0.1', port: 8080 } as const;

/**
 * The config file, as ARCHITECTURE.md sketches it. Each endpoint's `options` are checked by
 * its own definition. Defaults owned by another package (core's timeouts and outbox, the
 * journal's segment size) are imported from it, never repeated here.
 */
export const ConfigSchema = z
  .object({
    gateway: z
      .object({
        name: z.string().min(1).max(64).default('patchbay'),
        http: z
          .object({
            host: z.string().min(1).default(defaultHttp.host),
            port: z.number().int().min(0).max(65535).default(defaultHttp.port),
            enabled: z.boolean().default(true),
            /** Open connections (upgraded ws clients apart); at the cap a silent one gives way, else the newcomer is closed. */
            maxConnections: z.number().int().min(1).max(65_536).default(defaultHttpAdmission.maxConnections),
            /** Complete request headers within this time of the accept; not pushed back by trickled bytes. */
            headersTimeoutMs: z.number().int().min(100).max(600_000).default(defaultHttpAdmission.headersTimeoutMs),
            /** The whole request within this time. */
            requestTimeoutMs: z.number().int().min(100).max(3_600_000).default(defaultHttpAdmission.requestTimeoutMs),
          })
          .strict()
          // Node refuses a server whose headers may take longer than the whole request.
          .refine((h) => h.headersTimeoutMs <= h.requestTimeoutMs, { message: 'headersTimeoutMs must not exceed requestTimeoutMs' })
          .prefault({}),
        dataDir: z.string().min(1).default('./data'),
        /**
         * The gateway-wide bound on unfinished client input, held by every listener together and
         * enforced as it is held; `check` and `run` also warn when the listeners' own budgets add up to more.
         */
        maxBufferedBytes: z.number().int().min(1024 * 1024).max(64 * 1024 * 1024 * 1024).default(defaultInputBudgetBytes),
        journal: z
          .object({
            enabled: z.boolean().default(true),
            /** `interval` (default): fdatasync at most every `fsyncIntervalMs`; `batch`: after every write; `never`: leave it to the OS. */
            fsync: z.enum(['never', 'interval', 'batch']).default(defaultJournalOptions.fsync),
            fsyncIntervalMs: z.number().int().min(10).default(defaultJournalOptions.fsyncIntervalMs),
            segmentBytes: z.number().int().min(4096).default(defaultJournalOptions.segmentBytes),
          })
          .strict()
          .prefault({}),
        commandTimeoutMs: z.number().int().min(1).default(defaultGatewayTimeouts.commandTimeoutMs),
        drainTimeoutMs: z.number().int().min(0).default(defaultGatewayTimeouts.drainTimeoutMs),
        /** How long an undelivered momentary event (a press, a pulse) is kept for a host. */
        eventTtlMs: z.number().int().min(1).max(2_147_483_647).default(defaultOutboxOptions.eventTtlMs),
        /** How long one delivery may go unsettled before its host is reported stalled. */
        stallTimeoutMs: z.number().int().min(10).max(2_147_483_647).default(defaultOutboxOptions.stallTimeoutMs),
        outbox: z
          .object({
            /** Most replies that may wait for one host; commands beyond it are refused up front. */
            maxPendingReplies: z.number().int().min(1).optional(),
            /** Deprecated name of `maxPendingReplies` (still read, with a warning). */
            maxQueue: z.number().int().min(1).optional(),
            maxBatch: z.number().int().min(1).default(defaultOutboxOptions.maxBatch),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
        /** `auto`: pretty on a terminal, JSON otherwise. */
        format: z.enum(['auto', 'json', 'pretty']).default('auto'),
      })
      .strict()
      .prefault({}),
    devices: z
      .array(
        z
          .object({
            id: idSchema,
            driver: z.string().min(1),
            options: z.unknown().optional(),
            /** Silence longer than this makes the device `stale`; default: three report intervals of its description. */
            staleAfterMs: z.number().int().min(1).max(2_147_483_647).optional(),
          })
          .strict(),
      )
      .default([]),
    hosts: z.array(z.object({ id: idSchema, adapter: z.string().min(1), options: z.unknown().optional() }).strict()).default([]),
    routes: z.array(z.object({ devices: z.array(idSchema).min(1), hosts: z.array(idSchema).min(1) }).strict()).optional(),
    /** Several gateways as one installation over an MQTT 5 broker (issue 19); absent: this gateway runs alone. */
    cluster: clusterConfig.optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.cluster === undefined) return;
    if (config.hosts.some((h) => h.id === CLUSTER_HOST_ID)) {
      ctx.addIssue({ code: 'custom', path: ['hosts'], message: `the host id "${CLUSTER_HOST_ID}" is the cluster link's when a cluster section is given; rename that host` });
    }
    if (config.cluster.gateway === undefined) {
      const gateway = clusterConfig.shape.gateway.safeParse(config.gateway.name);
      if (!gateway.success) ctx.addIssue({ code: 'custom', path: ['cluster', 'gateway'], message: `gateway.name ${JSON.stringify(config.gateway.name)} cannot be this gateway's id in the cluster (${gateway.error.issues[0]?.message ?? 'invalid'}); give cluster.gateway` });
    }
  });

/** The host id the cluster link runs as. */
export const CLUSTER_HOST_ID = 'cluster';

/** A validated config (endpoint options not yet checked). */
export type GatewayConfig = z.output<typeof ConfigSchema>;
/** A config as written in a file. */
export type GatewayConfigInput = z.input<typeof ConfigSchema>;
