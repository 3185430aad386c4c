import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { zodIssues, type SpecIssue } from '@patchbay/core';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const idSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'ids are letters, digits, ".", "_" and "-", starting with a letter or digit');

/** The config file, as ARCHITECTURE.md sketches it. Each endpoint's `options` are checked by its own definition. */
export const ConfigSchema = z
  .object({
    gateway: z
      .object({
        name: z.string().min(1).max(64).default('patchbay'),
        http: z
          .object({
            host: z.string().min(1).default('127.0.0.1'),
            port: z.number().int().min(0).max(65535).default(8080),
            enabled: z.boolean().default(true),
          })
          .strict()
          .prefault({}),
        dataDir: z.string().min(1).default('./data'),
        journal: z
          .object({
            enabled: z.boolean().default(true),
            /** `interval` (default): fdatasync at most every `fsyncIntervalMs`; `batch`: after every write; `never`: leave it to the OS. */
            fsync: z.enum(['never', 'interval', 'batch']).default('interval'),
            fsyncIntervalMs: z.number().int().min(10).default(1000),
            segmentBytes: z.number().int().min(4096).default(8 * 1024 * 1024),
          })
          .strict()
          .prefault({}),
        commandTimeoutMs: z.number().int().min(1).default(5000),
        drainTimeoutMs: z.number().int().min(0).default(5000),
        outbox: z
          .object({ maxQueue: z.number().int().min(1).default(10_000), maxBatch: z.number().int().min(1).default(512) })
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
    devices: z.array(z.object({ id: idSchema, driver: z.string().min(1), options: z.unknown().optional() }).strict()).default([]),
    hosts: z.array(z.object({ id: idSchema, adapter: z.string().min(1), options: z.unknown().optional() }).strict()).default([]),
    routes: z.array(z.object({ devices: z.array(idSchema).min(1), hosts: z.array(idSchema).min(1) }).strict()).optional(),
  })
  .strict();

/** A validated config (endpoint options not yet checked). */
export type GatewayConfig = z.output<typeof ConfigSchema>;
/** A config as written in a file. */
export type GatewayConfigInput = z.input<typeof ConfigSchema>;

/** Reading or parsing the file failed. */
export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
}

/** Reads a YAML or JSON config file (by extension; YAML otherwise, which also reads JSON). */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigFileError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  try {
    return extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (error) {
    throw new ConfigFileError(`${path} is not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
}

/** Validates the file's shape (not endpoint options), returning every issue with its path. */
export function parseConfig(raw: unknown): { config?: GatewayConfig; issues: SpecIssue[] } {
  const result = ConfigSchema.safeParse(raw ?? {});
  if (result.success) return { config: result.data, issues: [] };
  return { issues: zodIssues('', result.error, raw ?? {}).map((issue) => ({ ...issue, path: issue.path || '(root)' })) };
}

const secretKey = /apikey|api_key|password|passwd|secret|token|encryptionkey|credential/i;

/** A deep copy with every secret-looking value replaced, for printing and logging. */
export function redactSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = secretKey.test(k) && v !== undefined && v !== null && typeof v !== 'object' ? '[redacted]' : redactSecrets(v);
    return out as T;
  }
  return value;
}

/** pino redact paths for the same secrets wherever a config or options object is logged. */
export const redactPaths = ['apikey', 'password', 'token', 'secret', 'encryptionKey', '*.apikey', '*.password', '*.token', '*.secret', '*.encryptionKey', '*.*.apikey', '*.*.password', '*.*.token', '*.*.encryptionKey', 'options.tracim.password', 'req.headers.authorization'];
