import type { z } from 'zod';
import type { AdapterDefinition, DriverDefinition } from './definitions.js';
import { ErrorCodes, PatchbayError } from './errors.js';
import { MAX_JSON_DEPTH } from './commands.js';
import { quoteForLog } from './logger.js';

/** One device or host as the gateway runs it: its id, its definition and its raw `options`. */
export interface EndpointSpec<D> {
  id: string;
  definition: D;
  options?: unknown;
  /**
   * Devices only: silence longer than this makes the device `stale`. Default: three report
   * intervals when its description gives one, else never.
   */
  staleAfterMs?: number;
}

/** Which devices go to which hosts. With no routes at all, every device goes to every host. */
export interface RouteSpec {
  devices: readonly string[];
  hosts: readonly string[];
}

/** One problem found in a gateway spec, with the config path it concerns. */
export interface SpecIssue {
  /** `devices[1].options.path`, `routes[0].hosts[2]`... */
  path: string;
  message: string;
}

/** Formats a zod issue path the way our configs are written: `hosts[2].options.port`. */
export function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? String(part) : `.${String(part)}`;
  return out;
}

/**
 * Turns zod issues into spec issues under `prefix`. With the parsed `input`, type errors
 * also say what was found (`expected number, got "abc"`), which is what a person fixes.
 */
export function zodIssues(prefix: string, error: z.ZodError, input?: unknown): SpecIssue[] {
  return error.issues.map((issue) => {
    let message = issue.message;
    if (input !== undefined && issue.code === 'invalid_type') {
      const found = valueAt(input, issue.path);
      message = found === undefined ? `required: expected ${issue.expected}, got nothing` : `expected ${issue.expected}, got ${describeValue(found)}`;
    }
    return { path: formatPath(prefix, issue.path), message };
  });
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function describeValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** What {@link optionsParser} returns: `schema.safeParse(options)`. */
export type OptionsParse = (schema: z.ZodType, options: unknown) => z.ZodSafeParseResult<unknown>;

/**
 * `schema.safeParse(options)`, with the outcome kept for options equal to ones already parsed:
 * 10,000 devices of one driver configured alike are parsed once, not 10,000 times. Equal means
 * plain data written the same by JSON.stringify (what a reload calls unchanged options);
 * anything else (NaN, -0, an undefined value, a Date, a getter) is parsed every time, and so
 * are options that fail. Devices configured alike then share one parsed config, which a
 * definition reads and never changes (a reload hands an unchanged device its old one too).
 */
export function optionsParser(): OptionsParse {
  const kept = new WeakMap<z.ZodType, Map<string, z.ZodSafeParseResult<unknown>>>();
  return (schema, options) => {
    if (!plainData(options, 0)) return schema.safeParse(options);
    const key = JSON.stringify(options);
    let bySchema = kept.get(schema);
    const known = bySchema?.get(key);
    if (known !== undefined) return known;
    const result = schema.safeParse(options);
    if (result.success) {
      if (bySchema === undefined) kept.set(schema, (bySchema = new Map()));
      bySchema.set(key, result);
    }
    return result;
  };
}

/** Strings, booleans, finite numbers (not -0), null, and plain objects and arrays of them: what JSON.stringify tells apart. */
function plainData(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object': {
      if (value === null) return true;
      if (depth > MAX_JSON_DEPTH) return false;
      const proto: unknown = Object.getPrototypeOf(value);
      const isArray = Array.isArray(value);
      if (isArray ? proto !== Array.prototype : proto !== Object.prototype && proto !== null) return false;
      const descriptors = Object.getOwnPropertyDescriptors(value);
      let own = 0;
      for (const key in descriptors) {
        const descriptor = descriptors[key] as PropertyDescriptor;
        // An array's length is its only property JSON.stringify does not write as one.
        if (isArray && key === 'length') continue;
        if (!descriptor.enumerable || !('value' in descriptor) || !plainData(descriptor.value, depth + 1)) return false;
        own++;
      }
      // No symbol keys (a schema may read what JSON leaves out), no holes in an array.
      return Object.getOwnPropertySymbols(value).length === 0 && (!isArray || own === (value as unknown[]).length);
    }
    default:
      return false;
  }
}

/**
 * Checks endpoint ids, each endpoint's options against its definition's schema, and the
 * routes, returning every problem (not just the first). Parsed options come back by id.
 */
export function checkEndpoints(spec: {
  devices: readonly EndpointSpec<DriverDefinition>[];
  hosts: readonly EndpointSpec<AdapterDefinition>[];
  routes?: readonly RouteSpec[] | undefined;
  /** Where devices and hosts sit in the config file, for issue paths. */
  paths?: { devices: string; hosts: string; routes: string };
  /** Routes may name devices of other gateways of a cluster, which come and go at run time (issue 19). */
  remoteRoutes?: boolean;
}): { issues: SpecIssue[]; parsed: Map<string, unknown> } {
  const paths = spec.paths ?? { devices: 'devices', hosts: 'hosts', routes: 'routes' };
  const issues: SpecIssue[] = [];
  const parsed = new Map<string, unknown>();
  const deviceIds = new Set<string>();
  const hostIds = new Set<string>();
  // Device and host ids share one namespace: a duplicate is checked against every id seen.
  const allIds = new Set<string>();
  const check = (list: readonly EndpointSpec<DriverDefinition | AdapterDefinition>[], prefix: string, { ids, parse }: { ids: Set<string>; parse: OptionsParse }) => {
    list.forEach((endpoint, index) => {
      if (allIds.has(endpoint.id)) {
        issues.push({ path: `${prefix}[${index}].id`, message: `duplicate id "${endpoint.id}": device and host ids must be unique` });
      }
      ids.add(endpoint.id);
      allIds.add(endpoint.id);
      const result = parse(endpoint.definition.config, endpoint.options ?? {});
      if (result.success) parsed.set(endpoint.id, result.data);
      else issues.push(...zodIssues(`${prefix}[${index}].options`, result.error, endpoint.options ?? {}));
    });
  };
  check(spec.devices, paths.devices, { ids: deviceIds, parse: optionsParser() });
  // Hosts are few, and rarely alike: keeping their options (Domogik's sensor map of every channel) would cost more than it saves.
  check(spec.hosts, paths.hosts, { ids: hostIds, parse: (schema, options) => schema.safeParse(options) });
  (spec.routes ?? []).forEach((route, index) => {
    route.devices.forEach((id, i) => {
      if (!deviceIds.has(id) && !spec.remoteRoutes) issues.push({ path: `${paths.routes}[${index}].devices[${i}]`, message: `unknown device "${id}" (known: ${[...deviceIds].join(', ') || 'none'})` });
    });
    route.hosts.forEach((id, i) => {
      if (!hostIds.has(id)) issues.push({ path: `${paths.routes}[${index}].hosts[${i}]`, message: `unknown host "${id}" (known: ${[...hostIds].join(', ') || 'none'})` });
    });
  });
  return { issues, parsed };
}

/**
 * Checks a whole gateway spec (its endpoints, routes and staleness settings), throwing
 * `CONFIG_INVALID` with every problem; returns the parsed options by id.
 */
export function checkGatewaySpec(spec: Parameters<typeof checkEndpoints>[0]): Map<string, unknown> {
  const { issues, parsed } = checkEndpoints(spec);
  spec.devices.forEach((d, index) => {
    const stale = d.staleAfterMs;
    if (stale !== undefined && !(Number.isInteger(stale) && stale >= 1 && stale <= 2_147_483_647)) {
      issues.push({ path: formatPath('devices', [index, 'staleAfterMs']), message: `expected a whole number of milliseconds from 1 to 2147483647, got ${quoteForLog(stale)}` });
    }
  });
  if (issues.length > 0) {
    throw new PatchbayError(ErrorCodes.CONFIG_INVALID, `invalid gateway spec:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`, { context: { issues } });
  }
  return parsed;
}
