import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { assertDefinition, ErrorCodes, PatchbayError, type AdapterDefinition, type AnyDefinition, type DriverDefinition } from '@patchbay/core';
import { satisfies } from './version.js';

/** One built-in: its type name and how to load its definition (on first use only). */
export interface Builtin {
  kind: 'driver' | 'adapter';
  type: string;
  load(): Promise<AnyDefinition>;
}

type DefinitionOf<K extends 'driver' | 'adapter'> = K extends 'driver' ? DriverDefinition : AdapterDefinition;

/** Where definitions come from: the built-ins by type name, else installed packages by name. A value, passed to whoever needs it. */
export interface Registry {
  /** Built-in type names, for messages and the embedded default. */
  readonly types: { readonly drivers: readonly string[]; readonly adapters: readonly string[] };
  /** The definition for a config's `driver:` / `adapter:` value; throws a coded error. */
  load<K extends 'driver' | 'adapter'>(kind: K, type: string): Promise<DefinitionOf<K>>;
}

/** The running `@patchbay/core` version, from its package.json. */
export function runningCoreVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.resolve('@patchbay/core')));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === '@patchbay/core' && pkg.version) return pkg.version;
    } catch {
      // not here: look one level up
    }
    const up = dirname(dir);
    if (up === dir) return '0.0.0';
    dir = up;
  }
}

/**
 * A registry of `builtins`, then of npm packages that default-export a definition (resolved
 * from `cwd` first, then from the gateway's own install). Each definition's `coreVersion`
 * range is checked against the running core: a mismatch is `CORE_INCOMPATIBLE`.
 */
export function createRegistry(builtins: readonly Builtin[], options: { cwd: string; coreVersion?: string }): Registry {
  const coreVersion = options.coreVersion ?? runningCoreVersion();
  const byKind = (kind: 'driver' | 'adapter') => new Map(builtins.filter((b) => b.kind === kind).map((b) => [b.type, b]));
  const drivers = byKind('driver');
  const adapters = byKind('adapter');
  return {
    types: { drivers: [...drivers.keys()], adapters: [...adapters.keys()] },
    async load<K extends 'driver' | 'adapter'>(kind: K, type: string): Promise<DefinitionOf<K>> {
      const builtin = (kind === 'driver' ? drivers : adapters).get(type);
      let definition: unknown;
      let source = `built-in ${kind} "${type}"`;
      if (builtin) {
        definition = await builtin.load();
      } else {
        const specifier = resolvePackage(type, options.cwd);
        if (!specifier) {
          const known = [...(kind === 'driver' ? drivers : adapters).keys()];
          throw new PatchbayError(ErrorCodes.UNKNOWN_TYPE, `unknown ${kind} "${type}": not a built-in (${known.join(', ')}) nor an installed npm package`, {
            context: { kind, type, known },
          });
        }
        source = `package "${type}"`;
        definition = ((await import(specifier)) as { default?: unknown }).default;
      }
      assertDefinition(definition, { kind, source });
      if (builtin && (definition as AnyDefinition).type !== type) {
        throw new PatchbayError(ErrorCodes.DEFINITION_INVALID, `${source}'s definition says type "${(definition as AnyDefinition).type}"`, { context: { kind, type } });
      }
      const range = (definition as AnyDefinition).coreVersion;
      if (range !== undefined && !satisfies(coreVersion, range)) {
        throw new PatchbayError(ErrorCodes.CORE_INCOMPATIBLE, `${source} was built for @patchbay/core ${range}, but this gateway runs @patchbay/core ${coreVersion}`, {
          context: { kind, type, coreVersion: range, running: coreVersion },
        });
      }
      return definition as unknown as DefinitionOf<K>;
    },
  };
}

function resolvePackage(name: string, cwd: string): string | undefined {
  if (!/^(@[a-z0-9._-]+\/)?[a-z0-9._-]+$/i.test(name)) return undefined;
  for (const base of [join(cwd, 'noop.js'), import.meta.filename]) {
    try {
      return pathToFileURL(createRequire(base).resolve(name)).href;
    } catch {
      // try the next base
    }
  }
  // ESM-only packages without a "require" condition: let import() resolve from here.
  try {
    return import.meta.resolve(name);
  } catch {
    return undefined;
  }
}
