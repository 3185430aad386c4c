import { defineAdapter, type AdapterDefinition } from '@patchbay/core';
import type { z } from 'zod';
import { clusterConfig } from './config.js';
import { ClusterLink, type ClusterHealth, type ClusterLinkOptions } from './link.js';

/** The options the app adds to the `cluster` section: the gateway's id when the section names none. */
export const clusterHostConfig = clusterConfig.extend({ gateway: clusterConfig.shape.gateway.unwrap() });

/** The cluster link as a host definition, and the running link (for `/healthz`). */
export interface ClusterHost {
  definition: AdapterDefinition<typeof clusterHostConfig>;
  /** The link while it runs. */
  current(): ClusterLink | undefined;
  /** The cluster section of `/healthz`, or undefined before the link started. */
  health(): ClusterHealth | undefined;
}

/**
 * Builds the cluster link's host definition (issue 19). The app adds it to the gateway's hosts
 * when the config has a `cluster` section; `registry` is the gateway itself, read at start.
 */
export function createClusterHost(options: ClusterLinkOptions): ClusterHost {
  let current: ClusterLink | undefined;
  const definition = defineAdapter({
    type: 'cluster',
    description: 'several gateways as one installation over an MQTT 5 broker',
    config: clusterHostConfig,
    create: (config: z.output<typeof clusterHostConfig>, ctx) => (current = new ClusterLink(config, ctx, options)),
  });
  return { definition, current: () => current, health: () => current?.health() };
}
