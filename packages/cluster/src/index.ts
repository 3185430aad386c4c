/**
 * @patchbay/cluster: several gateways as one installation over an MQTT 5 broker (issue 19).
 * Each gateway publishes its own devices under `<cluster>/<gateway>/…` and shows the others'
 * to its core as remote devices; commands to them go to their owner as MQTT 5 requests.
 */
export { clusterConfig, type ClusterConfig, type ClusterConfigInput } from './config.js';
export { clusterHostConfig, createClusterHost, type ClusterHost } from './definition.js';
export type { ClusterGatewayHealth, ClusterHealth, ClusterLink, ClusterLinkOptions, RemoteRegistry } from './link.js';
