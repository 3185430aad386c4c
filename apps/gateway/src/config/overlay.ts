/** What the command line says about the config (each wins over the environment, which wins over the file). */
export interface ConfigFlags {
  dataDir?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
  /** Devices to add (`--serial-sim`). */
  extraDevices?: readonly { id: string; driver: string; options?: unknown }[];
}

/** A mode's own change to the config (a host entry it adds): a pure function from value to value. */
export type ConfigEdit = (raw: Readonly<Record<string, unknown>>) => Record<string, unknown>;

const record = (value: unknown): Record<string, unknown> => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {});

/** A port variable as a number when it is one; otherwise as written, so validation names the bad value. */
const portValue = (raw: string | undefined): number | string | undefined => (raw === undefined || raw === '' ? undefined : /^\d+$/.test(raw) ? Number(raw) : raw);

/**
 * The config with the environment's and the flags' overrides applied, then each edit, in
 * order. Never changes `raw`: containers set the environment, people the flags, modes edit.
 */
export function overlayConfig(raw: unknown, options: { env: Readonly<Record<string, string | undefined>>; flags?: ConfigFlags; edits?: readonly ConfigEdit[] }): unknown {
  if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) return raw; // a shape error for validation to report
  const { env, flags = {} } = options;
  const dataDir = flags.dataDir ?? (env.PATCHBAY_DATA_DIR || undefined);
  const host = flags.host ?? (env.PATCHBAY_HTTP_HOST || undefined);
  const port = flags.port ?? portValue(env.PATCHBAY_HTTP_PORT);
  let out: Record<string, unknown> = { ...record(raw) };
  if (dataDir !== undefined || host !== undefined || port !== undefined) {
    const gateway = { ...record(out.gateway) };
    if (dataDir !== undefined) gateway.dataDir = dataDir;
    if (host !== undefined || port !== undefined) gateway.http = { ...record(gateway.http), ...(host !== undefined ? { host } : {}), ...(port !== undefined ? { port } : {}) };
    out.gateway = gateway;
  }
  if (flags.extraDevices?.length) out.devices = [...(Array.isArray(out.devices) ? (out.devices as unknown[]) : []), ...flags.extraDevices];
  for (const edit of options.edits ?? []) out = edit(out);
  return out;
}
