import { renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { describeError } from '@patchbay/core';
import type { Command } from 'commander';
import type { Logger as PinoLogger } from 'pino';
import { createJeedomLogger } from '../jeedomLog.js';
import { builtinTypes } from '../registry.js';
import type { RunningGateway } from '../run.js';

/** What runs the daemon, loaded once the pid file is written (Jeedom polls for it from the start). */
const loadRuntime = () =>
  Promise.all([import('@patchbay/adapter-jeedom'), import('../config.js'), import('../resolve.js'), import('../run.js')]).then(
    ([{ CallbackClient }, { readConfigFile }, { formatIssues, resolveConfig }, { runGateway }]) => ({ CallbackClient, readConfigFile, formatIssues, resolveConfig, runGateway }),
  );

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

/** Registers `patchbay jeedom`. */
export default function register(program: Command): void {
  program
    .command('jeedom')
    .description('run as a Jeedom plugin daemon (the options Jeedom passes to demond.py)')
    .option('--socketport <port>', 'TCP port of the command socket', '55009')
    .option('--sockethost <host>', 'interface to bind ("" = all, localhost = 127.0.0.1)', '127.0.0.1')
    .option('--callback <url>', "the plugin's callback script URL")
    .option('--apikey <key>', "the plugin's API key")
    .option('--pid <file>', 'pid file (alias --pidfile)')
    .option('--loglevel <level>', 'debug|info|notice|warning|error|critical|none', 'error')
    .option('--cycle <seconds>', 'seconds between callback flushes; 0 = immediate', '0.3')
    .option('--device <path>', 'serial device to bridge (default: the simulated device)')
    .option('--deviceid <id>', 'device id in the Jeedom payloads (default thermo1, or serial for --device)')
    .option('--datadir <dir>', 'journal directory (default: next to the pid file)')
    .option('--config <file>', "a Patchbay config: its devices (unless --device) and other hosts run too")
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(async () => {
      // Parse the raw words ourselves (see parseJeedomArgs); commander gives help and dispatch.
      const at = process.argv.indexOf('jeedom', 2);
      await runJeedom(parseJeedomArgs(process.argv.slice(at + 1)));
    });
}

function usage(message: string): never {
  // §2.2: argparse reports bad values on stderr and exits 2, before the pid file (§10 item 5).
  process.stderr.write(`patchbay jeedom: error: ${message}\n`);
  process.exit(2);
}

async function runJeedom(args: JeedomArgs): Promise<void> {
  const v = args.values;
  const port = v.socketport === undefined || v.socketport === '' ? 55009 : Number(v.socketport);
  if (!/^\d+$/.test(v.socketport ?? '55009') || !Number.isInteger(port) || port < 1 || port > 65535) {
    usage(`argument --socketport: invalid port ${JSON.stringify(v.socketport)} (an integer 1-65535)`);
  }
  const cycle = v.cycle === undefined || v.cycle === '' ? 0.3 : Number(v.cycle);
  if (!Number.isFinite(cycle)) usage(`argument --cycle: invalid number ${JSON.stringify(v.cycle)}`);
  const apikey = v.apikey ?? '';
  if (apikey === '') usage('argument --apikey: the plugin API key is required');
  const host = v.sockethost === undefined || v.sockethost === 'localhost' ? '127.0.0.1' : v.sockethost === '' ? '0.0.0.0' : v.sockethost;
  const pidFile = v.pid || '/tmp/patchbay-jeedom.pid';
  const device = v.device && v.device !== 'auto' ? v.device : undefined;
  const logger = createJeedomLogger({ loglevel: v.loglevel, secrets: [apikey] });

  // §2.3 banner (the key itself is never logged: §8.11).
  logger.info('Start patchbay (Jeedom daemon mode)');
  logger.info(`Log level: ${v.loglevel ?? 'error'}`);
  logger.info(`Socket port: ${port}`);
  logger.info(`Socket host: ${host}`);
  logger.info(`PID file: ${pidFile}`);
  logger.info(`Apikey: [redacted, ${apikey.length} characters]`);
  logger.info(`Callback: ${v.callback || '(none: nothing is sent up)'}`);
  logger.info(`Cycle: ${cycle}`);
  logger.info(`Device: ${device ?? 'simulated'}`);
  for (const option of args.unknown) logger.warn(`Unknown option ${option} ignored`);

  const pid = { path: pidFile, written: false };
  let running: RunningGateway | undefined;
  const exit = (): never => {
    logger.debug('Exit 0');
    logger.flush();
    process.exit(0);
  };
  const shutdown = (): void => {
    logger.debug('Shutdown');
    logger.debug(`Removing PID file ${pidFile}`);
    // Everything must be over within 1 s (§10 item 39), whatever the drain still holds (it is journaled).
    setTimeout(exit, 900).unref();
    (running?.stop() ?? Promise.resolve()).then(exit, (error: unknown) => {
      logger.error(`Fatal error: ${describeError(error)}`);
      exit();
    });
  };
  let signalled = false;
  for (const [signal, number] of [
    ['SIGTERM', 15],
    ['SIGINT', 2],
  ] as const) {
    process.on(signal, () => {
      // §2.5: the pid file goes first, synchronously: SIGKILL may follow within milliseconds.
      removePid(pid);
      logger.debug(`Signal ${number} caught, exiting...`);
      if (signalled) return;
      signalled = true;
      shutdown();
    });
  }
  const fatal = (message: string): never => {
    logger.error(message);
    removePid(pid);
    return exit();
  };

  // §2.4: write the pid before any network activity; atomically (temp file + rename).
  try {
    const temp = `${pidFile}.${process.pid}.tmp`;
    writeFileSync(temp, `${process.pid}\n`, { mode: 0o644 });
    renameSync(temp, pidFile);
    pid.written = true;
  } catch (error) {
    fatal(`Fatal error: cannot write the pid file: ${describeError(error)}`);
  }
  logger.info(`Writing PID ${process.pid} to ${pidFile}`);
  const { CallbackClient, readConfigFile, formatIssues, resolveConfig, runGateway } = await loadRuntime();

  // §2.3 step 6: the one start-up GET; a failure ends the daemon (exit 0) before any bind.
  if (v.callback) {
    const client = new CallbackClient({ callback: v.callback, apikey, logger: logger.child({}) });
    try {
      await client.test();
    } catch {
      fatal('Network communication issues. Please fixe your Jeedom network configuration.');
    } finally {
      client.close();
    }
  }
  // §2.3 step 7: a busy port is fatal in launch mode (exit 0); probe before starting the gateway.
  try {
    await probePort(host, port);
  } catch (error) {
    fatal(`Fatal error: ${describeError(error)} (${host}:${port})`);
  }

  const deviceId = v.deviceid || (device ? 'serial' : 'thermo1');
  const jeedomHost = {
    id: 'jeedom',
    adapter: typeName('adapter', 'jeedom', '@patchbay/adapter-jeedom'),
    options: { socketPort: port, socketHost: host, apikey, callback: v.callback || undefined, cycle, callbackTest: false },
  };
  const serialDevice = device ? { id: deviceId, driver: typeName('driver', 'serial', '@patchbay/driver-serial'), options: { path: device } } : undefined;
  let raw: Record<string, unknown>;
  if (v.config) {
    // The configured devices (the serial one instead with --device) and other hosts, plus this Jeedom host.
    let file: Record<string, unknown>;
    try {
      file = (readConfigFile(v.config) ?? {}) as Record<string, unknown>;
    } catch (error) {
      return fatal(`Fatal error: ${describeError(error)}`);
    }
    const hosts = (Array.isArray(file.hosts) ? file.hosts : []) as { id?: string; adapter?: string }[];
    const devices = serialDevice ? [serialDevice] : ((Array.isArray(file.devices) ? file.devices : []) as { id?: string }[]);
    const routes = Array.isArray(file.routes) ? [...(file.routes as unknown[]), { devices: devices.map((d) => d.id), hosts: ['jeedom'] }] : undefined;
    raw = { ...file, devices, hosts: [...hosts.filter((h) => h.id !== 'jeedom' && h.adapter !== 'jeedom'), jeedomHost], routes };
  } else {
    raw = {
      gateway: {
        name: 'patchbay',
        http: { enabled: false },
        dataDir: v.datadir || join(dirname(pidFile), 'patchbay-data'),
        // Jeedom SIGKILLs soon after SIGTERM: drain briefly, the journal keeps the rest.
        drainTimeoutMs: 500,
      },
      devices: [serialDevice ?? { id: deviceId, driver: 'sim', options: { interval: 1000 } }],
      hosts: [jeedomHost],
    };
  }
  const { resolved, issues } = await resolveConfig(raw);
  if (!resolved) return fatal(`Fatal error: invalid configuration:\n${formatIssues(issues)}`);
  logger.info('Socket interface started');
  try {
    running = await runGateway(resolved, { logger: logger as PinoLogger, source: 'jeedom command line' });
  } catch (error) {
    fatal(`Fatal error: ${describeError(error)}`);
  }
}

function removePid(pid: { path: string; written: boolean }): void {
  if (!pid.written) return;
  pid.written = false;
  try {
    rmSync(pid.path, { force: true });
  } catch {
    // already gone
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

/** The built-in type name when registered, else the package name (resolved from node_modules). */
function typeName(kind: 'driver' | 'adapter', builtin: string, pkg: string): string {
  const names = kind === 'driver' ? builtinTypes.drivers : builtinTypes.adapters;
  return names.includes(builtin) ? builtin : pkg;
}
