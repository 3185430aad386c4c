import type { AnyDefinition } from '@patchbay/core';
import type { Builtin } from './registry.js';

const load =
  (importer: () => Promise<{ default: AnyDefinition }>) =>
  async (): Promise<AnyDefinition> =>
    (await importer()).default;

/**
 * The built-in drivers and adapters: a list of packages, each an ordinary one written against
 * `@patchbay/core`'s public API exactly as a third-party one, loaded on first use. What each
 * runs with in the embedded default is its definition's business (`embedded`).
 */
export const builtins: readonly Builtin[] = [
  { kind: 'driver', type: 'sim', load: load(() => import('@patchbay/driver-sim')) },
  { kind: 'driver', type: 'serial', load: load(() => import('@patchbay/driver-serial')) },
  { kind: 'adapter', type: 'jeedom', load: load(() => import('@patchbay/adapter-jeedom')) },
  { kind: 'adapter', type: 'domogik', load: load(() => import('@patchbay/adapter-domogik')) },
  { kind: 'adapter', type: 'comodojo', load: load(() => import('@patchbay/adapter-comodojo')) },
  { kind: 'adapter', type: 'tracim', load: load(() => import('@patchbay/adapter-tracim')) },
  { kind: 'adapter', type: 'ws', load: load(() => import('@patchbay/adapter-ws')) },
];
