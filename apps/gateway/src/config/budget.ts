import type { AdapterDefinition, EndpointSpec } from '@patchbay/core';
import type { GatewayConfig } from './schema.js';

/** Node's default cap on one request's headers (`--max-http-header-size`): what one HTTP connection holds unfinished. */
const HTTP_HEADER_BYTES = 16 * 1024;

const mib = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MiB`;

/**
 * The gateway-wide bound on unfinished client input (issue 13.7): each listener has its own
 * budget, and their sum must fit `gateway.maxBufferedBytes`. A warning, not an error: the sum
 * is a worst case every listener reaches at once, and the operator may have the memory.
 */
export function inputBudgetWarning(config: GatewayConfig, hosts: readonly (EndpointSpec<AdapterDefinition> | undefined)[], options: ReadonlyMap<string, unknown>): string | undefined {
  const parts: [string, number][] = [];
  if (config.gateway.http.enabled) parts.push(['gateway.http', config.gateway.http.maxConnections * HTTP_HEADER_BYTES]);
  for (const host of hosts) {
    if (!host?.definition.inputBudgetBytes || !options.has(host.id)) continue;
    const bytes = host.definition.inputBudgetBytes(options.get(host.id));
    if (bytes > 0) parts.push([host.id, bytes]);
  }
  const total = parts.reduce((sum, [, bytes]) => sum + bytes, 0);
  const limit = config.gateway.maxBufferedBytes;
  if (total <= limit) return undefined;
  const listed = parts.map(([id, bytes]) => `${id} ${mib(bytes)}`).join(', ');
  return `the listeners may hold ${mib(total)} of unfinished client input together (${listed}), over gateway.maxBufferedBytes (${mib(limit)}): lower a listener's connection cap or budget, or raise gateway.maxBufferedBytes`;
}
