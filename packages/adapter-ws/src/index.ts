/**
 * @patchbay/adapter-ws: the gateway's own WebSocket API (snapshot, then live events; commands
 * with replies to the asker only) and a live status page, both on the gateway's HTTP port.
 * The wire codec and the socket server for bench and tests: `@patchbay/adapter-ws/internal`.
 */
import { defineAdapter } from '@patchbay/core';
import { createWsAdapter } from './adapter.js';
import { wsConfig } from './config.js';

export type { WsAdapter } from './adapter.js';
export { wsConfig, type WsConfig } from './config.js';
export { ClientCommandSchema, WireErrors, type ClientCommand } from './protocol/messages.js';
export { SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX } from './transport/auth.js';
export type { WsServerStats } from './transport/server.js';

/** The `ws` host adapter definition. */
const wsAdapter = defineAdapter({
  type: 'ws',
  description: "The gateway's own WebSocket API and live status page, on the gateway's HTTP port",
  config: wsConfig,
  create: createWsAdapter,
  // Each client's unfinished message; the unsent output (maxBufferedBytes) is ours, not the client's input (13.7).
  inputBudgetBytes: (config) => config.maxClients * config.maxPayload,
});

export default wsAdapter;
