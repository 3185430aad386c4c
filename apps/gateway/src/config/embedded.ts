import type { GatewayConfigInput } from './config.js';
import { builtinTypes } from './registry.js';

/**
 * Options each built-in adapter runs with in the embedded default: all on localhost, none
 * needing the host platform to be present.
 */
const embeddedHostOptions: Record<string, (dataDir: string) => unknown> = {};

/** Registers an adapter's embedded-default options (kept next to its registration). */
export function registerEmbeddedHost(type: string, options: (dataDir: string) => unknown): void {
  embeddedHostOptions[type] = options;
}

/**
 * The embedded default: the simulated device bridged into every built-in adapter, all on
 * localhost. What `patchbay run` runs without a config.
 */
export function embeddedDefaultConfig(dataDir = './data'): GatewayConfigInput {
  return {
    gateway: { name: 'patchbay', dataDir, http: { host: '127.0.0.1', port: 8080 } },
    log: { level: 'info', format: 'auto' },
    devices: [{ id: 'thermo1', driver: 'sim', options: { interval: 1000 } }],
    hosts: builtinTypes.adapters.filter((type) => embeddedHostOptions[type]).map((type) => ({ id: type, adapter: type, options: embeddedHostOptions[type]?.(dataDir) })),
  };
}
