import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertDefinition, ErrorCodes, PatchbayError, type AdapterDefinition, type DriverDefinition } from '@patchbay/core';
import simDriver from '@patchbay/driver-sim';

type Loader<D> = () => Promise<D>;

/** Built-in drivers by type name. Loaded lazily so a run pays only for what it uses. */
const builtinDrivers: Record<string, Loader<DriverDefinition>> = {
  sim: async () => simDriver,
};

/** Built-in adapters by type name. */
const builtinAdapters: Record<string, Loader<AdapterDefinition>> = {};

/** The built-in type names, for messages and the README. */
export const builtinTypes = {
  get drivers(): string[] {
    return Object.keys(builtinDrivers);
  },
  get adapters(): string[] {
    return Object.keys(builtinAdapters);
  },
};

/** Registers a built-in (used by the app's entry to keep this file free of optional packages). */
export function registerBuiltin(kind: 'driver' | 'adapter', type: string, load: Loader<DriverDefinition> | Loader<AdapterDefinition>): void {
  if (kind === 'driver') builtinDrivers[type] = load as Loader<DriverDefinition>;
  else builtinAdapters[type] = load as Loader<AdapterDefinition>;
}

/**
 * Finds a definition by built-in type name or, failing that, by npm package name: a
 * third-party package that default-exports a definition (resolved from the working
 * directory first, then from the gateway's own install).
 */
export async function loadDefinition<K extends 'driver' | 'adapter'>(kind: K, type: string): Promise<K extends 'driver' ? DriverDefinition : AdapterDefinition> {
  const builtin = kind === 'driver' ? builtinDrivers[type] : builtinAdapters[type];
  let definition: unknown;
  let source = `built-in ${kind} "${type}"`;
  if (builtin) {
    definition = await builtin();
  } else {
    const specifier = resolvePackage(type);
    if (!specifier) {
      const known = kind === 'driver' ? builtinTypes.drivers : builtinTypes.adapters;
      throw new PatchbayError(ErrorCodes.UNKNOWN_TYPE, `unknown ${kind} "${type}": not a built-in (${known.join(', ')}) nor an installed npm package`, {
        context: { kind, type, known },
      });
    }
    source = `package "${type}"`;
    const module = (await import(specifier)) as { default?: unknown };
    definition = module.default;
  }
  assertDefinition(definition, { kind, source });
  return definition as unknown as K extends 'driver' ? DriverDefinition : AdapterDefinition;
}

function resolvePackage(name: string): string | undefined {
  if (!/^(@[a-z0-9._-]+\/)?[a-z0-9._-]+$/i.test(name)) return undefined;
  for (const base of [join(process.cwd(), 'noop.js'), import.meta.filename]) {
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
