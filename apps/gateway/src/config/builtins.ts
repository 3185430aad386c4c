/**
 * The built-in drivers and adapters, and the options each adapter gets in the embedded
 * default. Every built-in is an ordinary package written against `@patchbay/core`'s public
 * API, exactly as a third-party one: this file only names them, and loads each on first use.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, PatchbayError, type AdapterDefinition, type DriverDefinition } from '@patchbay/core';
import { registerEmbeddedHost } from './defaultConfig.js';
import { registerBuiltin } from './registry.js';

let registered = false;

/**
 * The embedded default's API key for `host`: `$PATCHBAY_<HOST>_APIKEY`, else one generated on
 * first run and kept in `<dataDir>/<host>.apikey` (0600), so a local peer can read it and it
 * never has to appear in a log or a command line.
 */
function embeddedApikey(dataDir: string, host: string): string {
  const fromEnv = process.env[`PATCHBAY_${host.toUpperCase()}_APIKEY`];
  if (fromEnv) return fromEnv;
  const file = join(dataDir, `${host}.apikey`);
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    const key = randomBytes(24).toString('base64url');
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, key + '\n', { mode: 0o600 });
    return key;
  }
}

/**
 * A listening port of the embedded default: `$<name>` when set (to move a host off its
 * platform's standard port, e.g. when that one is taken), else the standard one.
 */
function embeddedPort(name: string, standard: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return standard;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65_535) {
    throw new PatchbayError(ErrorCodes.CONFIG_INVALID, `${name}=${JSON.stringify(raw)} is not a port (an integer 1-65535)`, { context: { variable: name } });
  }
  return port;
}

const load =
  <D>(importer: () => Promise<{ default: D }>) =>
  async (): Promise<D> =>
    (await importer()).default;

/** Registers every built-in once. */
export function registerBuiltins(): void {
  if (registered) return;
  registered = true;
  registerBuiltin('driver', 'serial', load<DriverDefinition>(() => import('@patchbay/driver-serial')));
  registerBuiltin('adapter', 'jeedom', load<AdapterDefinition>(() => import('@patchbay/adapter-jeedom')));
  // No callback unless one is given: the command socket serves, nothing is posted up.
  registerEmbeddedHost('jeedom', (dataDir) => ({
    socketPort: embeddedPort('PATCHBAY_JEEDOM_PORT', 55009),
    socketHost: '127.0.0.1',
    apikey: embeddedApikey(dataDir, 'jeedom'),
    // Compose passes an empty value when no callback is wanted.
    ...(process.env.PATCHBAY_JEEDOM_CALLBACK ? { callback: process.env.PATCHBAY_JEEDOM_CALLBACK } : {}),
  }));
  registerBuiltin('adapter', 'domogik', load<AdapterDefinition>(() => import('@patchbay/adapter-domogik')));
  // Its own embedded bus, and sensor ids of its own: no Domogik needs to be present.
  registerEmbeddedHost('domogik', () => ({
    bus: 'embedded',
    reqRepPort: embeddedPort('PATCHBAY_DOMOGIK_REQ_REP_PORT', 40410),
    pubPort: embeddedPort('PATCHBAY_DOMOGIK_PUB_PORT', 40411),
    subPort: embeddedPort('PATCHBAY_DOMOGIK_SUB_PORT', 40412),
    configService: 'none',
    sensors: { 'thermo1.temperature': 1, 'thermo1.humidity': 2, 'thermo1.relay': 3, 'thermo-serial.temperature': 11, 'thermo-serial.humidity': 12, 'thermo-serial.relay': 13 },
    commands: { 'thermo1.relay': 4, 'thermo-serial.relay': 14 },
  }));
  registerBuiltin('adapter', 'comodojo', load<AdapterDefinition>(() => import('@patchbay/adapter-comodojo')));
  registerEmbeddedHost('comodojo', () => ({ socket: `tcp://127.0.0.1:${embeddedPort('PATCHBAY_COMODOJO_PORT', 10042)}` }));
  registerBuiltin('adapter', 'tracim', load<AdapterDefinition>(() => import('@patchbay/adapter-tracim')));
  // Not the reference ~/.config/TracimDaemon path: that would clash with a TracimDaemon running beside us.
  registerEmbeddedHost('tracim', (dataDir) => ({ mode: 'master', socketPath: join(dataDir, 'tracim', 'master.sock') }));
  // The WebSocket API and status page serve on the gateway's own HTTP port.
  registerBuiltin('adapter', 'ws', load<AdapterDefinition>(() => import('@patchbay/adapter-ws')));
  registerEmbeddedHost('ws', () => ({}));
}
