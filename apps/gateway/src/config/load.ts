import { describeError } from '@patchbay/core';
import { readConfigFile } from './config.js';
import { embeddedDefaultConfig } from './defaultConfig.js';
import { formatIssues, resolveConfig, type ResolvedConfig } from './resolve.js';

/**
 * Loads the config a command runs with: `--config`, else `$PATCHBAY_CONFIG`, else the
 * embedded default. Prints every problem to stderr and returns undefined when invalid.
 */
export async function loadConfig(options: {
  file?: string | undefined;
  overrides?: { dataDir?: string | undefined; port?: number | undefined; host?: string | undefined };
  /** Devices to add to the config (`--serial-sim`). */
  extraDevices?: { id: string; driver: string; options?: unknown }[];
}): Promise<{ resolved: ResolvedConfig; source: string } | undefined> {
  const file = options.file ?? process.env.PATCHBAY_CONFIG;
  let raw: unknown;
  let source: string;
  try {
    raw = file ? readConfigFile(file) : embeddedDefaultConfig(options.overrides?.dataDir);
    source = file ?? 'embedded default';
  } catch (error) {
    console.error(describeError(error));
    return undefined;
  }
  // Flags win over the environment, which wins over the file (containers set the environment).
  const env = process.env;
  const overrides = {
    dataDir: options.overrides?.dataDir ?? env.PATCHBAY_DATA_DIR,
    host: options.overrides?.host ?? env.PATCHBAY_HTTP_HOST,
    port: options.overrides?.port ?? (env.PATCHBAY_HTTP_PORT ? Number.parseInt(env.PATCHBAY_HTTP_PORT, 10) : undefined),
  };
  if (raw && typeof raw === 'object' && (overrides.dataDir !== undefined || overrides.port !== undefined || overrides.host !== undefined)) {
    const r = raw as { gateway?: { dataDir?: string; http?: { port?: number; host?: string } } };
    r.gateway ??= {};
    if (overrides.dataDir !== undefined) r.gateway.dataDir = overrides.dataDir;
    if (overrides.port !== undefined) r.gateway.http = { ...r.gateway.http, port: overrides.port };
    if (overrides.host !== undefined) r.gateway.http = { ...r.gateway.http, host: overrides.host };
  }
  if (options.extraDevices?.length && raw && typeof raw === 'object') {
    const r = raw as { devices?: unknown[] };
    r.devices = [...(Array.isArray(r.devices) ? r.devices : []), ...options.extraDevices];
  }
  const { resolved, issues } = await resolveConfig(raw);
  if (!resolved) {
    console.error(`${source}: ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n${formatIssues(issues)}`);
    return undefined;
  }
  return { resolved, source };
}
