import type { Adapter, HostContext } from '@patchbay/core';
import type { WsConfig } from './config.js';
import { mountStatusPage } from './statusPage.js';
import { WsServer, type WsServerStats } from './transport/server.js';

/** The adapter instance: an {@link Adapter} plus its figures (clients, drops, backlog high-water mark). */
export interface WsAdapter extends Adapter {
  stats(): WsServerStats;
}

const noClients: WsServerStats = { clients: 0, slowDropped: 0, stalledDropped: 0, maxBufferedSeen: 0, rejectedUpgrades: 0, badMessages: 0 };

/** The socket endpoint and, unless `page: false`, the status page, both on the gateway's HTTP server. */
export function createWsAdapter(config: WsConfig, ctx: HostContext): WsAdapter {
  let server: WsServer | undefined;
  let unmountPage: (() => void) | undefined;
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
    // No deliverBatch: the outbox would then queue every event and coalesce a channel's states
    // within a turn, and clients are promised every state in order. The broadcasts of one
    // callback (of one turn, when busy) go in one socket write per client (FrameBatch); a
    // client's own frames (its snapshot, health, replies) go at once, its part of the batch first.
    deliver(event) {
      // Resolves at once: a client that is gone is gone; it gets a fresh snapshot on reconnect.
      server?.deliver(event);
    },
    stats: () => server?.stats() ?? noClients,
  };
}
