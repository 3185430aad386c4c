import type { Adapter, HostContext } from '@patchbay/core';
import type { TracimConfig } from './config.js';
import { TracimClient } from './modes/client.js';
import { TracimMaster } from './modes/master.js';

/**
 * Makes the `tracim` host for its mode: a drop-in TracimDaemon master ({@link TracimMaster},
 * the default) or a client of an existing master ({@link TracimClient}). Each mode owns its
 * lifecycle (`start`/`stop`) in `modes/`; the wire is in `protocol/`, sockets and HTTP in
 * `transport/`.
 */
export function createTracimAdapter(config: TracimConfig, ctx: HostContext): Adapter {
  return config.mode === 'client' ? new TracimClient(config, ctx) : new TracimMaster(config, ctx);
}
