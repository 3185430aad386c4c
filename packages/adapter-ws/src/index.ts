/**
 * @patchbay/adapter-ws: the gateway's own WebSocket API (snapshot, then live events; commands
 * with replies to the asker only) and a live status page, both on the gateway's HTTP port.
 */
import { defineAdapter, type Adapter, type HostContext } from '@patchbay/core';
import { wsConfig, type WsConfig } from './config.js';
import { mountStatusPage } from './statusPage.js';
import { WsServer, type WsServerStats } from './wsServer.js';

export { wsConfig, type WsConfig } from './config.js';
export { SUBPROTOCOL, TOKEN_PROTOCOL_PREFIX } from './auth.js';
export { ClientCommandSchema, WireErrors, type ClientCommand } from './protocol.js';
export type { WsServerStats } from './wsServer.js';

/** The adapter instance: an {@link Adapter} plus its figures (clients, drops, backlog high-water mark). */
export interface WsAdapter extends Adapter {
  stats(): WsServerStats;
}

function createWsAdapter(config: WsConfig, ctx: HostContext): WsAdapter {
  let server: WsServer | undefined;
  let unmountPage: (() => void) | undefined;
  const empty: WsServerStats = { clients: 0, slowDropped: 0, stalledDropped: 0, maxBufferedSeen: 0, rejectedUpgrades: 0, badMessages: 0 };
  return {
    async start() {
      const next = new WsServer(config, ctx);
      next.start();
      server = next;
      if (config.page && ctx.http) {
        try {
          unmountPage = await mountStatusPage(ctx.http, { pagePath: config.pagePath, wsPath: config.path });
        } catch (error) {
          await next.stop();
          server = undefined;
          throw error;
        }
      }
      ctx.status('alive', `serving ${config.path}${config.page ? ` and the status page at ${config.pagePath}` : ''}`);
    },
    async stop() {
      unmountPage?.();
      unmountPage = undefined;
      const current = server;
      server = undefined;
      await current?.stop();
    },
    deliver(event) {
      // Resolves at once: a client that is gone is gone; it gets a fresh snapshot on reconnect.
      server?.deliver(event);
    },
    stats: () => server?.stats() ?? empty,
  };
}

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
