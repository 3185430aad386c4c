import type { AnyDefinition } from '@patchbay/core';
import type { Builtin } from './registry.js';

/** `@patchbay/adapter-<type>` and `@patchbay/driver-<type>`: the built-in packages' naming rule. */
const BUILTIN_PACKAGE = /^@patchbay\/(adapter|driver)-([a-z0-9][a-z0-9._-]*)$/;

/**
 * The built-in drivers and adapters: the `@patchbay/adapter-*` and `@patchbay/driver-*`
 * packages the gateway depends on (its package.json), each an ordinary package written
 * against `@patchbay/core`'s public API exactly as a third-party one, loaded on first use.
 * What each runs with in the embedded default is its definition's business (`embedded`).
 */
export function builtinsOf(manifest: { dependencies?: Record<string, string> }): Builtin[] {
  return Object.keys(manifest.dependencies ?? {}).flatMap((name): Builtin[] => {
    const match = BUILTIN_PACKAGE.exec(name);
    if (!match) return [];
    return [{ kind: match[1] as Builtin['kind'], type: match[2] as string, load: async () => ((await import(name)) as { default: AnyDefinition }).default }];
  });
}
