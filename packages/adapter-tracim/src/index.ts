/**
 * @patchbay/adapter-tracim: a drop-in TracimDaemon master for unmodified SDK clients, with
 * optional TLM ingestion from a Tracim server, and a client of an existing master
 * (protocols/tracim.md).
 */
import { defineAdapter } from '@patchbay/core';
import { TracimClient } from './client.js';
import { tracimConfig } from './config.js';
import { TracimMaster } from './master.js';

export { TracimClient, sendOnce } from './client.js';
export { defaultMasterSocketPath, expandHome, tracimAccountConfig, tracimConfig, type TracimConfig } from './config.js';
export { STATE_EVENT_TYPE, TracimMaster } from './master.js';
export { SseParser, type SseEvent } from './sse.js';
export { TracimStream, type TracimStreamHooks } from './tracimStream.js';
export { decodeEnvelope, encodeEnvelope, EventTypes, MAX_WIRE_BYTES, tlmTime, type ClientData, type DaemonEvent, type Tlm } from './wire.js';

/** The `tracim` adapter: `options.mode` `master` (default) or `client`. */
const tracimAdapter = defineAdapter({
  type: 'tracim',
  description: 'TracimDaemon master for SDK clients (device state as TLMs, patchbay_command), or a client of an existing master',
  config: tracimConfig,
  create(config, ctx) {
    return config.mode === 'client' ? new TracimClient(config, ctx) : new TracimMaster(config, ctx);
  },
});

export default tracimAdapter;
