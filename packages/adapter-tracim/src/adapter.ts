import type { Adapter, HostContext } from '@patchbay/core';
import { TracimClient } from './client.js';
import type { TracimConfig } from './config.js';
import { TracimMaster } from './master.js';

/**
 * Makes the `tracim` host for its mode: a drop-in TracimDaemon master ({@link TracimMaster},
 * the default) or a client of an existing master ({@link TracimClient}). Each owns its
 * lifecycle (`start`/`stop`); the wire is in `protocol/`, sockets and HTTP in `transport/`.
 */
export function createTracimAdapter(config: TracimConfig, ctx: HostContext): Adapter {
  return config.mode === 'client' ? new TracimClient(config, ctx) : new TracimMaster(config, ctx);
}
