/**
 * The built-in drivers and adapters, and the options each adapter gets in the embedded
 * default. Every built-in is an ordinary package written against `@patchbay/core`'s public
 * API, exactly as a third-party one: this file only names them, and loads each on first use.
 */
import { join } from 'node:path';
import type { AdapterDefinition, DriverDefinition } from '@patchbay/core';
import { registerEmbeddedHost } from './defaultConfig.js';
import { registerBuiltin } from './registry.js';

let registered = false;

const load =
  <D>(importer: () => Promise<{ default: D }>) =>
  async (): Promise<D> =>
    (await importer()).default;

/** Registers every built-in once. */
export function registerBuiltins(): void {
  if (registered) return;
  registered = true;
  registerBuiltin('driver', 'serial', load<DriverDefinition>(() => import('@patchbay/driver-serial')));
  registerBuiltin('adapter', 'comodojo', load<AdapterDefinition>(() => import('@patchbay/adapter-comodojo')));
  registerEmbeddedHost('comodojo', () => ({ socket: 'tcp://127.0.0.1:10042' }));
  registerBuiltin('adapter', 'tracim', load<AdapterDefinition>(() => import('@patchbay/adapter-tracim')));
  // Not the reference ~/.config/TracimDaemon path: that would clash with a TracimDaemon running beside us.
  registerEmbeddedHost('tracim', (dataDir) => ({ mode: 'master', socketPath: join(dataDir, 'tracim', 'master.sock') }));
  // The WebSocket API and status page serve on the gateway's own HTTP port.
  registerBuiltin('adapter', 'ws', load<AdapterDefinition>(() => import('@patchbay/adapter-ws')));
  registerEmbeddedHost('ws', () => ({}));
}
