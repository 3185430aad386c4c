import net from 'node:net';
import { dirname, join } from 'node:path';
import { describeError } from '@patchbay/core';
import type { Logger as PinoLogger } from 'pino';
import type { CliContext } from '../cli/context.js';
import type { ConfigEdit } from '../config/overlay.js';
import type { RunningGateway } from '../run/gateway.js';
import { removePidFile, writePidFile } from '../run/pidFile.js';
import { handleSignals } from '../run/signals.js';
import { createJeedomLogger } from './jeedomLog.js';
import type { Mode } from './mode.js';

/** What runs the daemon, loaded once the pid file is written (Jeedom polls for it from the start). */
const loadRuntime = () =>
  Promise.all([import('@patchbay/adapter-jeedom/launch'), import('../config/load.js'), import('../run/gateway.js')]).then(([{ testCallback }, { loadConfig }, { runGateway }]) => ({
    testCallback,
    loadConfig,
    runGateway,
  }));

/**
 * `patchbay jeedom ...`: run as a Jeedom plugin daemon, started by the plugin's PHP exactly
 * like the template's demond.py (protocols/jeedom.md §2): pid file, start-up test, signals,
 * log format and exit statuses as there, with the deviations §10 marks.
 */

/** The options Jeedom's PHP passes (§2.2); `pidfile` is the older name of `pid`. */
const known = ['loglevel', 'socketport', 'sockethost', 'callback', 'apikey', 'pid', 'pidfile', 'cycle', 'device', 'deviceid', 'datadir', 'config'] as const;
type Known = (typeof known)[number];

/** What the command line said. */
export interface JeedomArgs {
  values: Partial<Record<Known, string>>;
  /** Unknown options (names only: their values may be secrets such as `--pswd`). */
  unknown: string[];
}

/**
 * Parses the daemon's command line the way Python's argparse does for the reference: both
 * `--name value` and `--name=value`, the last occurrence wins, unambiguous prefixes accepted.
 * Unlike argparse, an unknown option (with or without a value) is collected, not fatal
 * (§10 item 4). Commander stops parsing at the first unknown option, hence this pass.
 */
export function parseJeedomArgs(argv: readonly string[]): JeedomArgs {
  const values: Partial<Record<Known, string>> = {};
  const unknown: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) continue; // a stray positional: nothing to do with it
    const eq = arg.indexOf('=');
    const name = (eq >= 0 ? arg.slice(2, eq) : arg.slice(2)).toLowerCase();
    const exact = (known as readonly string[]).includes(name) ? (name as Known) : undefined;
    const prefixed = known.filter((k) => k.startsWith(name));
    const option = exact ?? (name.length > 0 && prefixed.length === 1 ? prefixed[0] : undefined);
    // A value is `=...` or the next argument, unless that is itself an option.
    const next = argv[i + 1];
    const hasNext = eq < 0 && next !== undefined && !next.startsWith('--');
    if (option === undefined) {
      unknown.push(eq >= 0 ? arg.slice(0, eq) : arg);
      if (hasNext) i++;
      continue;
    }
    if (eq >= 0) values[option] = arg.slice(eq + 1);
    else if (next !== undefined) {
      // A known option always takes the next argument, even one starting with "-" (`--cycle -1`).
      values[option] = next;
      i++;
    } else values[option] = '';
  }
  if (values.pidfile !== undefined && values.pid === undefined) values.pid = values.pidfile;
  return { values, unknown };
}


/** Where Jeedom mode writes its pid file unless told (`--pid`). */
const DEFAULT_PID_FILE = '/tmp/patchbay-jeedom.pid';
/** Everything must be over within 1 s of SIGTERM (§10 item 39), whatever the drain still holds (it is journaled). */
const EXIT_DEADLINE_MS = 900;

/** A launch that Jeedom's command line describes, before anything runs. */
export interface JeedomLaunch {
  /** The config edit that adds the Jeedom host (and the device) to the file's config or to the mode's own. */
  edit: ConfigEdit;
  /** `--config`: the file the edit applies to; otherwise the mode's own base config. */
  configFile: string | undefined;
  /** The mode's own config when there is no `--config`: no HTTP server, a short drain. */
  base: Record<string, unknown>;
  run: { pidFile: string; exitDeadlineMs: number; host: string; port: number; callback: string | undefined; apikey: string };
  /** The §2.3 banner lines, in order. */
  banner: string[];
}

/** A bad command line: argparse's message; the daemon exits 2 before the pid file (§10 item 5). */
export class JeedomUsageError extends Error {
  override readonly name = 'JeedomUsageError';
}

/**
 * Turns Jeedom's command line into a typed launch: the config overlay that adds the Jeedom host
 * and the run options (pid file, exit deadline). Pure: throws {@link JeedomUsageError} for bad values.
 */
export function jeedomLaunch(args: JeedomArgs): JeedomLaunch {
  const v = args.values;
  const port = v.socketport === undefined || v.socketport === '' ? 55009 : Number(v.socketport);
  if (!/^\d+$/.test(v.socketport ?? '55009') || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new JeedomUsageError(`argument --socketport: invalid port ${JSON.stringify(v.socketport)} (an integer 1-65535)`);
  }
  const cycle = v.cycle === undefined || v.cycle === '' ? 0.3 : Number(v.cycle);
  if (!Number.isFinite(cycle)) throw new JeedomUsageError(`argument --cycle: invalid number ${JSON.stringify(v.cycle)}`);
  const apikey = v.apikey ?? '';
  if (apikey === '') throw new JeedomUsageError('argument --apikey: the plugin API key is required');
  const host = v.sockethost === undefined || v.sockethost === 'localhost' ? '127.0.0.1' : v.sockethost === '' ? '0.0.0.0' : v.sockethost;
  const pidFile = v.pid || DEFAULT_PID_FILE;
  const device = v.device && v.device !== 'auto' ? v.device : undefined;
  const callback = v.callback || undefined;
  const deviceId = v.deviceid || (device ? 'serial' : 'thermo1');
  // The start-up test already ran (§2.3 step 6): the adapter must not test again.
  const jeedomHost = { id: 'jeedom', adapter: 'jeedom', options: { socketPort: port, socketHost: host, apikey, callback, cycle, callbackTest: false } };
  const serialDevice = device ? { id: deviceId, driver: 'serial', options: { path: device } } : undefined;
  const base = {
    gateway: {
      name: 'patchbay',
      http: { enabled: false },
      dataDir: v.datadir || join(dirname(pidFile), 'patchbay-data'),
      // Jeedom SIGKILLs soon after SIGTERM: drain briefly, the journal keeps the rest.
      drainTimeoutMs: 500,
    },
    devices: [serialDevice ?? { id: deviceId, driver: 'sim', options: { interval: 1000 } }],
    hosts: [],
  };
  const edit: ConfigEdit = (raw) => {
    if (!v.config) return { ...raw, hosts: [jeedomHost] };
    // The configured devices (the serial one instead with --device) and other hosts, plus this Jeedom host.
    const hosts = (Array.isArray(raw.hosts) ? raw.hosts : []) as { id?: string; adapter?: string }[];
    const devices = serialDevice ? [serialDevice] : ((Array.isArray(raw.devices) ? raw.devices : []) as { id?: string }[]);
    const routes = Array.isArray(raw.routes) ? [...(raw.routes as unknown[]), { devices: devices.map((d) => d.id), hosts: ['jeedom'] }] : undefined;
    return { ...raw, devices, hosts: [...hosts.filter((h) => h.id !== 'jeedom' && h.adapter !== 'jeedom'), jeedomHost], routes };
  };
  const banner = [
    'Start patchbay (Jeedom daemon mode)',
    `Log level: ${v.loglevel ?? 'error'}`,
    `Socket port: ${port}`,
    `Socket host: ${host}`,
    `PID file: ${pidFile}`,
    // The key itself is never logged (§8.11).
    `Apikey: [redacted, ${apikey.length} characters]`,
    `Callback: ${callback ?? '(none: nothing is sent up)'}`,
    `Cycle: ${cycle}`,
    `Device: ${device ?? 'simulated'}`,
  ];
  return { edit, configFile: v.config || undefined, base, banner, run: { pidFile, exitDeadlineMs: EXIT_DEADLINE_MS, host, port, callback, apikey } };
}

/**
 * `patchbay jeedom ...`: parse, then the same pipeline and `runGateway` as `patchbay run`, with
 * Jeedom's log format, pid file first, a start-up test and port probe, exit 0 on every failure (§2.3).
 */
async function runJeedom(ctx: CliContext): Promise<void> {
  const args = parseJeedomArgs(ctx.argv);
  let launch: JeedomLaunch;
  try {
    launch = jeedomLaunch(args);
  } catch (error) {
    if (!(error instanceof JeedomUsageError)) throw error;
    // §2.2: argparse reports bad values on stderr and exits 2, before the pid file (§10 item 5).
    process.stderr.write(`patchbay jeedom: error: ${error.message}\n`);
    return ctx.exit(2);
  }
  const { pidFile, host, port, callback, apikey } = launch.run;
  const logger = createJeedomLogger({ loglevel: args.values.loglevel, secrets: [apikey] });
  for (const line of launch.banner) logger.info(line);
  for (const option of args.unknown) logger.warn(`Unknown option ${option} ignored`);

  let running: RunningGateway | undefined;
  // Jeedom reads only the pid file: every ending is exit 0 (§10 items 11, 13, 14, 39).
  const exit = (): void => {
    logger.debug('Exit 0');
    logger.flush();
    ctx.exit(0);
  };
  handleSignals({
    stop: () => running?.stop() ?? Promise.resolve(),
    logger,
    exit,
    deadlineMs: launch.run.exitDeadlineMs,
    onSignal: (_signal, number, first) => {
      // §2.5: the pid file goes first, synchronously: SIGKILL may follow within milliseconds.
      removePidFile(pidFile);
      logger.debug(`Signal ${number} caught, exiting...`);
      if (!first) return;
      logger.debug('Shutdown');
      logger.debug(`Removing PID file ${pidFile}`);
    },
  });
  const fatal = (message: string): void => {
    logger.error(message);
    removePidFile(pidFile);
    exit();
  };

  // §2.4: write the pid before any network activity (atomically; refused if a live daemon holds it).
  try {
    writePidFile(pidFile);
  } catch (error) {
    return fatal(`Fatal error: ${describeError(error)}`);
  }
  logger.info(`Writing PID ${process.pid} to ${pidFile}`);
  const { testCallback, loadConfig, runGateway } = await loadRuntime();

  // §2.3 step 6: the one start-up GET; a failure ends the daemon (exit 0) before any bind.
  if (callback) {
    try {
      await testCallback({ callback, apikey, logger: logger.child({}) });
    } catch {
      return fatal('Network communication issues. Please fixe your Jeedom network configuration.');
    }
  }
  // §2.3 step 7: a busy port is fatal in launch mode (exit 0); probe before starting the gateway.
  try {
    await probePort(host, port);
  } catch (error) {
    return fatal(`Fatal error: ${describeError(error)} (${host}:${port})`);
  }
  const loaded = await loadConfig({
    file: launch.configFile,
    base: () => launch.base,
    edits: [launch.edit],
    env: ctx.env,
    registry: ctx.registry,
    cwd: ctx.cwd,
    embeddedFallback: ctx.embeddedFallback,
  });
  for (const warning of loaded.warnings) logger.warn(`Configuration: ${warning}`);
  if (!loaded.ok) return fatal(`Fatal error: invalid configuration:\n${loaded.message}`);
  logger.info('Socket interface started');
  try {
    running = await runGateway(loaded.resolved, { logger: logger as PinoLogger, source: 'jeedom command line', onStopRequested: () => process.kill(process.pid, 'SIGTERM') });
  } catch (error) {
    fatal(`Fatal error: ${describeError(error)}`);
  }
}

/** Resolves when `host:port` can be bound (then frees it at once), else rejects with the bind error. */
function probePort(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

/** The Jeedom mode: `patchbay jeedom`, with the options Jeedom's PHP passes to demond.py. */
export const jeedomMode: Mode = {
  name: 'jeedom',
  description: 'run as a Jeedom plugin daemon (the options Jeedom passes to demond.py)',
  options: [
    ['--socketport <port>', 'TCP port of the command socket', '55009'],
    ['--sockethost <host>', 'interface to bind ("" = all, localhost = 127.0.0.1)', '127.0.0.1'],
    ['--callback <url>', "the plugin's callback script URL"],
    ['--apikey <key>', "the plugin's API key"],
    ['--pid <file>', 'pid file (alias --pidfile)'],
    ['--loglevel <level>', 'debug|info|notice|warning|error|critical|none', 'error'],
    ['--cycle <seconds>', 'seconds between callback flushes; 0 = immediate', '0.3'],
    ['--device <path>', 'serial device to bridge (default: the simulated device)'],
    ['--deviceid <id>', 'device id in the Jeedom payloads (default thermo1, or serial for --device)'],
    ['--datadir <dir>', 'journal directory (default: next to the pid file)'],
    ['--config <file>', 'a Patchbay config: its devices (unless --device) and other hosts run too'],
  ],
  run: runJeedom,
};
