import { describeError, optionsParser, zodIssues, type AdapterDefinition, type DriverDefinition, type EndpointSpec, type SpecIssue } from '@patchbay/core';
import { z } from 'zod';
import type { Registry } from './registry.js';
import { ConfigSchema, type GatewayConfig } from './schema.js';
import { inputBudgetWarning } from './budget.js';

/** A config whose shape, definitions and endpoint options all passed. */
export interface ValidatedConfig {
  config: GatewayConfig;
  devices: EndpointSpec<DriverDefinition>[];
  hosts: EndpointSpec<AdapterDefinition>[];
  /** Endpoint options after their schema's defaults, by id. */
  options: Map<string, unknown>;
}

/** What validation found: every problem at once, and warnings that do not stop a run. */
export interface Validation {
  validated?: ValidatedConfig;
  issues: SpecIssue[];
  warnings: string[];
}

type Entry = { index: number; id: string | undefined; type: string | undefined; options: unknown; staleAfterMs?: number | undefined };

const record = (value: unknown): Record<string, unknown> => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {});

/**
 * Validates a config completely, in one pass: the file's shape, each driver and adapter type,
 * each endpoint's options against its own schema, unique ids and the routes. A mistake in one
 * part never hides those in another: every issue comes back, each with its path
 * (`hosts[2].options.port`), and unknown keys with the closest known one.
 */
export async function validateConfig(raw: unknown, registry: Registry): Promise<Validation> {
  const input = raw ?? {};
  const issues: SpecIssue[] = [];
  const warnings: string[] = [];
  const shape = ConfigSchema.safeParse(input);
  if (!shape.success) issues.push(...schemaIssues('', { schema: ConfigSchema, error: shape.error, input }).map((i) => ({ ...i, path: i.path || '(root)' })));

  const top = record(input);
  const entries = (list: unknown, key: 'driver' | 'adapter'): Entry[] =>
    (Array.isArray(list) ? (list as unknown[]) : []).map((e, index) => {
      const entry = record(e);
      return {
        index,
        id: typeof entry.id === 'string' ? entry.id : undefined,
        type: typeof entry[key] === 'string' ? entry[key] : undefined,
        options: entry.options,
        staleAfterMs: typeof entry.staleAfterMs === 'number' ? entry.staleAfterMs : undefined,
      };
    });
  const deviceEntries = entries(top.devices, 'driver');
  const hostEntries = entries(top.hosts, 'adapter');

  // Ids must be unique across devices and hosts, whether or not their definition loads.
  const seen = new Map<string, string>();
  for (const [prefix, list] of [
    ['devices', deviceEntries],
    ['hosts', hostEntries],
  ] as const) {
    for (const entry of list) {
      if (entry.id === undefined) continue;
      const first = seen.get(entry.id);
      if (first) issues.push({ path: `${prefix}[${entry.index}].id`, message: `duplicate id "${entry.id}" (first used at ${first}): device and host ids must be unique` });
      else seen.set(entry.id, `${prefix}[${entry.index}]`);
    }
  }

  const options = new Map<string, unknown>();
  // Devices configured alike (thousands of one driver) are parsed once; hosts are few, and each its own.
  const parseDeviceOptions = optionsParser();
  // One load per type, its outcome (a definition or the error each entry of it reports) shared:
  // 10,000 devices of one driver otherwise made as many dynamic imports and checks of one module.
  const definitions = new Map<string, Promise<DriverDefinition | AdapterDefinition>>();
  const definitionOf = <K extends 'driver' | 'adapter'>(kind: K, type: string): Promise<K extends 'driver' ? DriverDefinition : AdapterDefinition> => {
    const key = kind + '\u0000' + type;
    let loading = definitions.get(key);
    if (loading === undefined) {
      loading = registry.load(kind, type);
      // Each entry awaiting it reports the failure; this copy is only kept.
      loading.catch(() => undefined);
      definitions.set(key, loading);
    }
    return loading as Promise<K extends 'driver' ? DriverDefinition : AdapterDefinition>;
  };
  const load = async <K extends 'driver' | 'adapter'>(kind: K, prefix: string, entry: Entry): Promise<EndpointSpec<K extends 'driver' ? DriverDefinition : AdapterDefinition> | undefined> => {
    if (entry.id === undefined || entry.type === undefined) return undefined;
    let definition: K extends 'driver' ? DriverDefinition : AdapterDefinition;
    try {
      definition = await definitionOf(kind, entry.type);
    } catch (error) {
      issues.push({ path: `${prefix}[${entry.index}].${kind}`, message: describeError(error) });
      return undefined;
    }
    const parsed = kind === 'driver' ? parseDeviceOptions(definition.config, entry.options ?? {}) : definition.config.safeParse(entry.options ?? {});
    if (parsed.success) options.set(entry.id, parsed.data);
    else issues.push(...schemaIssues(`${prefix}[${entry.index}].options`, { schema: definition.config, error: parsed.error, input: entry.options ?? {} }));
    return { id: entry.id, definition, options: entry.options, ...(entry.staleAfterMs === undefined ? {} : { staleAfterMs: entry.staleAfterMs }) };
  };
  const [devices, hosts] = await Promise.all([
    Promise.all(deviceEntries.map((e) => load('driver', 'devices', e))),
    Promise.all(hostEntries.map((e) => load('adapter', 'hosts', e))),
  ]);

  // Routes name ids of the file's entries (an entry that failed to load has its own issue).
  const deviceIds = new Set(deviceEntries.flatMap((e) => (e.id === undefined ? [] : [e.id])));
  const hostIds = new Set(hostEntries.flatMap((e) => (e.id === undefined ? [] : [e.id])));
  (Array.isArray(top.routes) ? (top.routes as unknown[]) : []).forEach((r, index) => {
    const route = record(r);
    for (const [key, known, what] of [
      ['devices', deviceIds, 'device'],
      ['hosts', hostIds, 'host'],
    ] as const) {
      (Array.isArray(route[key]) ? (route[key] as unknown[]) : []).forEach((id, i) => {
        if (typeof id === 'string' && !known.has(id)) {
          if (what === 'device' && top.cluster !== undefined) {
            // A device of another gateway of the cluster (issue 19): it is routed when it appears.
            warnings.push(`routes[${index}].devices[${i}]: "${id}" is not a device of this gateway; it is taken as a device of another gateway of the cluster`);
            return;
          }
          issues.push({ path: `routes[${index}].${key}[${i}]`, message: `unknown ${what} "${id}" (known: ${[...known].join(', ') || 'none'})${suggest(id, [...known])}` });
        }
      });
    }
  });

  if (deviceEntries.length === 0 && Array.isArray(top.devices ?? [])) warnings.push('no devices: there is nothing to bridge');
  if (hostEntries.length === 0 && Array.isArray(top.hosts ?? [])) warnings.push('no hosts: device state goes nowhere');
  if (record(record(top.gateway).outbox).maxQueue !== undefined) {
    warnings.push('gateway.outbox.maxQueue is deprecated: it is read as gateway.outbox.maxPendingReplies (what it bounds); rename it');
  }

  issues.sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
  if (issues.length > 0 || !shape.success) return { issues, warnings };
  const overBudget = inputBudgetWarning(shape.data, hosts, options);
  if (overBudget) warnings.push(overBudget);
  const loadedDevices = devices.filter((d): d is EndpointSpec<DriverDefinition> => d !== undefined);
  const loadedHosts = hosts.filter((h): h is EndpointSpec<AdapterDefinition> => h !== undefined);
  return { validated: { config: shape.data, devices: loadedDevices, hosts: loadedHosts, options }, issues, warnings };
}

/** zod's issues as `SpecIssue`s, one per unknown key, each with the closest known key when there is one. */
export function schemaIssues(prefix: string, { schema, error, input }: { schema: z.ZodType; error: z.ZodError; input: unknown }): SpecIssue[] {
  return error.issues.flatMap((issue) => {
    if (issue.code !== 'unrecognized_keys') return zodIssues(prefix, new z.ZodError([issue]), input);
    const known = keysAt(schema, issue.path);
    return issue.keys.map((key) => ({
      path: zodIssues(prefix, new z.ZodError([{ ...issue, path: [...issue.path, key] }]))[0]?.path ?? key,
      message: `unknown key "${key}"${suggest(key, known)}`,
    }));
  });
}

/** ` (did you mean "x"?)` for the closest of `known` to `word`, or nothing when none is close. */
export function suggest(word: string, known: readonly string[]): string {
  const lower = word.toLowerCase();
  let best: { key: string; distance: number } | undefined;
  for (const key of known) {
    const distance = key.toLowerCase() === lower ? 0 : editDistance(lower, key.toLowerCase());
    if (!best || distance < best.distance) best = { key, distance };
  }
  return best && best.distance <= Math.max(1, Math.floor(word.length / 3)) ? ` (did you mean "${best.key}"?)` : '';
}

/** Damerau-Levenshtein (optimal string alignment): a swap of two letters (`htpp`) is one edit. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number) => (d[i] as number[])[j] as number;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = value;
    }
  }
  return at(a.length, b.length);
}

interface ZodDef {
  type?: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  getter?: () => z.ZodType;
}

const defOf = (schema: z.ZodType): ZodDef => (schema as unknown as { _zod: { def: ZodDef } })._zod.def;

/** The keys an object schema knows at `path` (through defaults, optionals, pipes, arrays and unions). */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  const found = new Set<string>();
  const walk = (s: z.ZodType | undefined, rest: readonly PropertyKey[], depth: number): void => {
    if (!s || depth > 32) return;
    const def = defOf(s);
    if (def.innerType) return walk(def.innerType, rest, depth + 1);
    if (def.type === 'pipe') return walk(def.in, rest, depth + 1);
    if (def.type === 'lazy' && def.getter) return walk(def.getter(), rest, depth + 1);
    if (def.options) return def.options.forEach((o) => walk(o, rest, depth + 1));
    if (def.type === 'array') return walk(def.element, rest.slice(1), depth + 1);
    if (def.type === 'object' && def.shape) {
      if (rest.length === 0) Object.keys(def.shape).forEach((k) => found.add(k));
      else walk(def.shape[String(rest[0])], rest.slice(1), depth + 1);
    }
  };
  walk(schema, path, 0);
  return [...found];
}

/** Formats issues one per line, as `check` prints them. */
export function formatIssues(issues: readonly SpecIssue[]): string {
  return issues.map((i) => `  ${i.path}: ${i.message}`).join('\n');
}
