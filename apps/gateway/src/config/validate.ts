import { checkEndpoints, describeError, type AdapterDefinition, type DriverDefinition, type EndpointSpec, type SpecIssue } from '@patchbay/core';
import { parseConfig, type GatewayConfig } from './config.js';
import { loadDefinition } from './registry.js';

/** A config with every definition loaded and every endpoint's options validated. */
export interface ResolvedConfig {
  config: GatewayConfig;
  devices: EndpointSpec<DriverDefinition>[];
  hosts: EndpointSpec<AdapterDefinition>[];
  /** Endpoint options after their schema's defaults, by id. */
  options: Map<string, unknown>;
}

/**
 * Validates a raw config completely: the file's shape, then each driver and adapter type,
 * then each endpoint's options against its own schema, then the routes. Returns every
 * issue found, each with its path (`hosts[2].options.port`), never just the first.
 */
export async function resolveConfig(raw: unknown): Promise<{ resolved?: ResolvedConfig; issues: SpecIssue[] }> {
  const parsed = parseConfig(raw);
  // A mistake in one part of the file must not hide those in the others: when the shape is
  // wrong somewhere, still check every well-formed device and host entry.
  const config = parsed.config ?? salvageEndpoints(raw);
  const all: SpecIssue[] = [...parsed.issues];
  const devices: EndpointSpec<DriverDefinition>[] = [];
  const hosts: EndpointSpec<AdapterDefinition>[] = [];
  // Keep each endpoint's index so option issues point at the right entry even when another failed to load.
  const deviceIndex: number[] = [];
  const hostIndex: number[] = [];
  await Promise.all([
    ...config.devices.map(async (d, i) => {
      if (!d) return;
      try {
        devices[i] = { id: d.id, definition: await loadDefinition('driver', d.driver), options: d.options };
      } catch (error) {
        all.push({ path: `devices[${i}].driver`, message: describeError(error) });
      }
    }),
    ...config.hosts.map(async (h, i) => {
      if (!h) return;
      try {
        hosts[i] = { id: h.id, definition: await loadDefinition('adapter', h.adapter), options: h.options };
      } catch (error) {
        all.push({ path: `hosts[${i}].adapter`, message: describeError(error) });
      }
    }),
  ]);
  devices.forEach((d, i) => d && deviceIndex.push(i));
  hosts.forEach((h, i) => h && hostIndex.push(i));
  const loadedDevices = deviceIndex.map((i) => devices[i] as EndpointSpec<DriverDefinition>);
  const loadedHosts = hostIndex.map((i) => hosts[i] as EndpointSpec<AdapterDefinition>);
  const checked = checkEndpoints({ devices: loadedDevices, hosts: loadedHosts, routes: config.routes });
  // checkEndpoints numbers entries by position among the loaded ones: map back to the file's.
  for (const issue of checked.issues) {
    all.push({
      ...issue,
      path: issue.path
        .replace(/^devices\[(\d+)\]/, (_, n: string) => `devices[${deviceIndex[Number(n)]}]`)
        .replace(/^hosts\[(\d+)\]/, (_, n: string) => `hosts[${hostIndex[Number(n)]}]`),
    });
  }
  // Route entries naming endpoints that failed to load would be reported twice: keep the load error.
  const failed = new Set([...config.devices.filter((d, i) => d && !devices[i]).map((d) => d.id), ...config.hosts.filter((h, i) => h && !hosts[i]).map((h) => h.id)]);
  const issuesOut = all.filter((issue) => !(issue.path.startsWith('routes') && [...failed].some((id) => issue.message.includes(`"${id}"`))));
  issuesOut.sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
  if (issuesOut.length > 0 || !parsed.config) return { issues: issuesOut };
  return { resolved: { config: parsed.config, devices: loadedDevices, hosts: loadedHosts, options: checked.parsed }, issues: [] };
}

/** The device and host entries of an otherwise invalid file that are well-formed enough to check. */
function salvageEndpoints(raw: unknown): Pick<GatewayConfig, 'devices' | 'hosts' | 'routes'> {
  const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const entries = (list: unknown, key: 'driver' | 'adapter') =>
    (Array.isArray(list) ? list : []).map((e: unknown) => {
      const entry = (e && typeof e === 'object' ? e : {}) as Record<string, unknown>;
      // Malformed entries keep their index (so paths stay right) but are never loaded.
      return typeof entry.id === 'string' && typeof entry[key] === 'string' ? { id: entry.id, [key]: entry[key], options: entry.options } : undefined;
    });
  return {
    devices: entries(r.devices, 'driver') as GatewayConfig['devices'],
    hosts: entries(r.hosts, 'adapter') as GatewayConfig['hosts'],
    routes: undefined,
  };
}

/** Formats issues one per line, as `check` prints them. */
export function formatIssues(issues: readonly SpecIssue[]): string {
  return issues.map((i) => `  ${i.path}: ${i.message}`).join('\n');
}
