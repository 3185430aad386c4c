import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, isPatchbayError, PatchbayError, type EmbeddedContext, type EmbeddedDefaults } from '@patchbay/core';
import { defaultHttp, type GatewayConfigInput } from './schema.js';
import type { Registry } from './registry.js';
import { dataDirError, prepareDataDir } from './dataDir.js';

/** What the embedded default is built from. */
export interface EmbeddedOptions {
  dataDir: string;
  env: Readonly<Record<string, string | undefined>>;
  registry: Registry;
  /** Embedded defaults for built-ins whose definition does not carry its own (yet), by adapter type. */
  fallback?: Readonly<Record<string, EmbeddedDefaults>>;
}

/** The context an `embedded.options()` gets: ports and secrets from the environment given, never `process.env`. */
export function embeddedContext(dataDir: string, env: Readonly<Record<string, string | undefined>>): EmbeddedContext {
  return {
    dataDir,
    env,
    port(variable, standard) {
      const raw = env[variable];
      if (raw === undefined || raw === '') return standard;
      const port = Number(raw);
      if (!/^\d+$/.test(raw) || port < 1 || port > 65_535) {
        throw new PatchbayError(ErrorCodes.CONFIG_INVALID, `${variable}=${JSON.stringify(raw)} is not a port (an integer 1-65535)`, { context: { variable } });
      }
      return port;
    },
    // Generated on first run and kept 0600, so a local peer can read it and it never has to
    // appear in a log or on a command line.
    secret(file, variable) {
      const fromEnv = variable === undefined ? undefined : env[variable];
      if (fromEnv) return fromEnv;
      const path = join(dataDir, file);
      try {
        return readFileSync(path, 'utf8').trim();
      } catch {
        const key = randomBytes(24).toString('base64url');
        try {
          prepareDataDir(dataDir);
          writeFileSync(path, key + '\n', { mode: 0o600 });
        } catch (error) {
          throw isPatchbayError(error) ? error : dataDirError(dataDir, error);
        }
        return key;
      }
    },
  };
}

/**
 * The embedded default: the simulated device bridged into every built-in adapter that has
 * embedded options, all on localhost. What `patchbay run` runs without a config.
 */
export async function embeddedDefaultConfig(options: EmbeddedOptions): Promise<GatewayConfigInput> {
  const ctx = embeddedContext(options.dataDir, options.env);
  const hosts: NonNullable<GatewayConfigInput['hosts']> = [];
  for (const type of options.registry.types.adapters) {
    const definition = await options.registry.load('adapter', type);
    const embedded = definition.embedded ?? options.fallback?.[type];
    if (embedded) hosts.push({ id: type, adapter: type, options: embedded.options(ctx) });
  }
  return {
    gateway: { name: 'patchbay', dataDir: options.dataDir, http: { ...defaultHttp } },
    log: { level: 'info', format: 'auto' },
    devices: [{ id: 'thermo1', driver: 'sim', options: { interval: 1000 } }],
    hosts,
  };
}

/** Every port variable the embedded hosts listen by, for "address in use" hints. */
export async function embeddedPortVariables(registry: Registry, fallback?: Readonly<Record<string, EmbeddedDefaults>>): Promise<Record<string, readonly string[]>> {
  const out: Record<string, readonly string[]> = {};
  for (const type of registry.types.adapters) {
    const embedded = (await registry.load('adapter', type)).embedded ?? fallback?.[type];
    if (embedded?.portVariables) out[type] = embedded.portVariables;
  }
  return out;
}
