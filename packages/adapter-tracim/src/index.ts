/**
 * @patchbay/adapter-tracim: a drop-in TracimDaemon master for unmodified SDK clients, with
 * optional TLM ingestion from a Tracim server, and a client of an existing master
 * (protocols/tracim.md). Codecs and transports for bench and tests: `@patchbay/adapter-tracim/internal`.
 */
import { defineAdapter } from '@patchbay/core';
import { createTracimAdapter } from './adapter.js';
import { tracimConfig } from './config.js';

export { tracimConfig, type TracimConfig } from './config.js';

/** The `tracim` adapter: `options.mode` `master` (default) or `client`. */
const tracimAdapter = defineAdapter({
  type: 'tracim',
  description: 'TracimDaemon master for SDK clients (device state as TLMs, patchbay_command), or a client of an existing master',
  config: tracimConfig,
  create: createTracimAdapter,
  // The listening socket's budget for all unfinished messages, in either mode (13.7).
  inputBudgetBytes: (config) => config.maxBufferedBytes,
});

export default tracimAdapter;
