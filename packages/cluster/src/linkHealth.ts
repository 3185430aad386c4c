import type { ClusterGatewayHealth, ClusterHealth } from '@patchbay/core';
import type { LinkSession } from './session.js';

// The cluster section's types live in core, so a host (the ws status page) can show it too (issue 19.7).
export type { ClusterGatewayHealth, ClusterHealth };

/** A device id refused because another gateway announced it first (issue 19.3). */
export type RefusedDevice = ClusterHealth['refused'][number];

/** What the health reads of the remote side. */
export interface RemoteView {
  /** The other gateways, by id. */
  readonly peers: ReadonlyMap<string, { id: string; status: 'online' | 'offline' | 'unknown' }>;
  /** The remote devices shown to this core, by id, with the gateway that holds each. */
  readonly active: ReadonlyMap<string, { gateway: string }>;
  readonly refused: ReadonlyMap<string, RefusedDevice>;
}

/** The cluster section of `/healthz`: this gateway with the devices it shares, then every other with those shown here. */
export function clusterHealth(session: LinkSession, remote: RemoteView, shared: string[]): ClusterHealth {
  const { config } = session;
  const gateways: ClusterGatewayHealth[] = [{ id: config.gateway, status: session.ready ? 'online' : 'unknown', self: true, devices: shared }];
  for (const peer of [...remote.peers.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    gateways.push({ id: peer.id, status: peer.status, devices: [...remote.active].filter(([, a]) => a.gateway === peer.id).map(([d]) => d).sort() });
  }
  return { cluster: config.name, gateway: config.gateway, broker: session.broker, connected: session.ready, gateways, refused: [...remote.refused.values()] };
}

/** Tells the core the link state, per host in `/healthz`: the broker, each gateway's status, refused ids. */
export function reportConnection(session: LinkSession, remote: RemoteView): void {
  const others = [...remote.peers.values()];
  const online = others.filter((p) => p.status === 'online').length;
  const parts = others.map((p) => `${p.id} ${p.status}`);
  const refused = remote.refused.size;
  session.ctx.connection({
    connected: session.ready,
    peers: online,
    detail: `${session.ready ? 'broker up' : 'broker down'}; gateways: ${parts.join(', ') || 'none yet'}${refused > 0 ? `; ${refused} device ids refused as duplicates` : ''}`,
  });
}
