import { describeError, type EmbeddedDefaults, type SpecIssue } from '@patchbay/core';
import { embeddedDefaultConfig } from './embedded.js';
import { readConfigFile } from './file.js';
import { overlayConfig, type ConfigEdit, type ConfigFlags } from './overlay.js';
import type { Registry } from './registry.js';
import { resolveConfig, type ResolvedConfig } from './resolve.js';
import { formatIssues, validateConfig } from './validate.js';

/** Everything the pipeline reads, passed in: nothing here looks at `process`. */
export interface LoadOptions {
  /** `--config`; else `base` when given (a mode's own); else `env.PATCHBAY_CONFIG`; else the embedded default. */
  file?: string | undefined;
  env: Readonly<Record<string, string | undefined>>;
  flags?: ConfigFlags;
  /** A mode's edits, applied after the environment and flags. */
  edits?: readonly ConfigEdit[];
  registry: Registry;
  cwd: string;
  /** The config when no file is named (a mode's own); default: the embedded default. */
  base?: () => Promise<unknown> | unknown;
  /** Embedded options for built-ins whose definition has none. */
  embeddedFallback?: Readonly<Record<string, EmbeddedDefaults>>;
}

/** The pipeline's outcome: a resolved config, or every problem. Warnings either way. */
export type Loaded =
  | { ok: true; resolved: ResolvedConfig; source: string; warnings: string[] }
  | { ok: false; source: string; issues: SpecIssue[]; warnings: string[]; /** One message, as `check` prints it. */ message: string };

/**
 * The one config pipeline: parse (the file, or the embedded default) → overlay (environment,
 * flags, a mode's edits) → validate (every problem at once) → resolve. Each step is a function
 * from value to value; a value goes one way through them.
 */
export async function loadConfig(options: LoadOptions): Promise<Loaded> {
  const file = options.file ?? (options.base ? undefined : options.env.PATCHBAY_CONFIG || undefined);
  const source = file ?? (options.base ? 'command line' : 'embedded default');
  let parsed: unknown;
  try {
    if (file) parsed = readConfigFile(file);
    else if (options.base) parsed = await options.base();
    else {
      const dataDir = options.flags?.dataDir ?? (options.env.PATCHBAY_DATA_DIR || './data');
      parsed = await embeddedDefaultConfig({ dataDir, env: options.env, registry: options.registry, ...(options.embeddedFallback ? { fallback: options.embeddedFallback } : {}) });
    }
  } catch (error) {
    const issue = { path: '(file)', message: describeError(error) };
    return { ok: false, source, issues: [issue], warnings: [], message: describeError(error) };
  }
  const overlaid = overlayConfig(parsed, { env: options.env, ...(options.flags ? { flags: options.flags } : {}), ...(options.edits ? { edits: options.edits } : {}) });
  const { validated, issues, warnings } = await validateConfig(overlaid, options.registry);
  if (!validated) {
    return { ok: false, source, issues, warnings, message: `${source}: ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n${formatIssues(issues)}` };
  }
  return { ok: true, resolved: resolveConfig(validated, options.cwd), source, warnings };
}
