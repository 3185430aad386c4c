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
  overrides?: { dataDir?: string | undefined; port?: number | undefined };
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
  const overrides = options.overrides ?? {};
  if (raw && typeof raw === 'object' && (overrides.dataDir !== undefined || overrides.port !== undefined)) {
    const r = raw as { gateway?: { dataDir?: string; http?: { port?: number } } };
    r.gateway ??= {};
    if (overrides.dataDir !== undefined) r.gateway.dataDir = overrides.dataDir;
    if (overrides.port !== undefined) r.gateway.http = { ...r.gateway.http, port: overrides.port };
  }
  const { resolved, issues } = await resolveConfig(raw);
  if (!resolved) {
    console.error(`${source}: ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n${formatIssues(issues)}`);
    return undefined;
  }
  return { resolved, source };
}
