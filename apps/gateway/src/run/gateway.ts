import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { createGateway, describeError, type Gateway } from '@patchbay/core';
import { FileJournal } from '@patchbay/journal';
import type { Logger as PinoLogger } from 'pino';
import { redactSecrets } from './config.js';
import { GatewayHttp } from './http.js';
import { createLogger } from './logger.js';
import { Metrics } from './metrics.js';
import { removePidFile, writePidFile } from './pidFile.js';
import type { ResolvedConfig } from './resolve.js';

/** How to run a resolved config. */
export interface RunOptions {
  /** Write `<pid>\n` here at start and remove it on a clean stop. */
  pidFile?: string;
  /** A ready logger (Jeedom mode brings its own format); otherwise built from `config.log`. */
  logger?: PinoLogger;
  /** Where the config came from, for the start-up log line. */
  source?: string;
}

/** A running gateway and how to stop it. */
export interface RunningGateway {
  gateway: Gateway;
  logger: PinoLogger;
  /** The HTTP server's bound address, when enabled. */
  http: AddressInfo | undefined;
  /** Stop devices, drain outboxes up to `gateway.drainTimeoutMs`, journal the rest, close HTTP, remove the pid file. */
  stop(): Promise<void>;
}

/** Starts everything a resolved config describes. */
export async function runGateway(resolved: ResolvedConfig, options: RunOptions = {}): Promise<RunningGateway> {
  const { config } = resolved;
  const logger = options.logger ?? createLogger(config.log);
  if (options.pidFile) writePidFile(options.pidFile);
  try {
    const metrics = new Metrics();
    const http = config.gateway.http.enabled ? new GatewayHttp(metrics, logger.child({ component: 'http' })) : undefined;
    const address = http ? await http.listen(config.gateway.http.host, config.gateway.http.port) : undefined;
    const journalConfig = config.gateway.journal;
    const dataDir = resolve(config.gateway.dataDir);
    const journal = journalConfig.enabled
      ? new FileJournal({
          dir: join(dataDir, 'journal'),
          fsync: journalConfig.fsync,
          fsyncIntervalMs: journalConfig.fsyncIntervalMs,
          segmentBytes: journalConfig.segmentBytes,
          logger: logger.child({ component: 'journal' }),
        })
      : undefined;
    const gateway = createGateway({
      name: config.gateway.name,
      devices: resolved.devices,
      hosts: resolved.hosts,
      routes: config.routes,
      logger,
      metrics,
      journal,
      http,
      commandTimeoutMs: config.gateway.commandTimeoutMs,
      outbox: config.gateway.outbox,
    });
    metrics.watch(gateway);
    http?.watch(gateway);
    await gateway.start();
    logger.info(
      {
        source: options.source,
        http: address ? `http://${address.address}:${address.port}` : 'disabled',
        devices: resolved.devices.map((d) => `${d.id} (${d.definition.type})`),
        hosts: resolved.hosts.map((h) => `${h.id} (${h.definition.type})`),
        journal: journal ? { dir: join(dataDir, 'journal'), fsync: journalConfig.fsync } : 'off',
      },
      `patchbay "${config.gateway.name}" started`,
    );
    logger.debug({ config: redactSecrets(config) }, 'resolved config');
    let stopping: Promise<void> | undefined;
    return {
      gateway,
      logger,
      http: address,
      stop: () => {
        stopping ??= (async () => {
          await gateway.stop({ drainTimeoutMs: config.gateway.drainTimeoutMs });
          await http?.close();
          if (options.pidFile) removePidFile(options.pidFile);
          logger.info('patchbay stopped');
        })();
        return stopping;
      },
    };
  } catch (error) {
    if (options.pidFile) removePidFile(options.pidFile);
    throw error;
  }
}

/**
 * Stops cleanly on SIGTERM or SIGINT and exits 0; a second signal exits at once with 1.
 * Resolves when the process is about to exit (for tests that run it in-process).
 */
export function stopOnSignals(running: RunningGateway, exit: (code: number) => void = (code) => process.exit(code)): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      running.logger.warn(`${signal} again: exiting without finishing the drain`);
      exit(1);
      return;
    }
    signalled = true;
    running.logger.info(`${signal} received: stopping (draining outboxes)`);
    running.stop().then(
      () => {
        running.logger.flush?.();
        exit(0);
      },
      (error: unknown) => {
        running.logger.error({ err: error }, `stop failed: ${describeError(error)}`);
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  exitOnFatal(running.logger, exit);
  // A daemon outlives its terminal (comodojo/daemon's contract too): SIGHUP must not stop it.
  process.on('SIGHUP', () => running.logger.info('SIGHUP received: ignored (the gateway keeps running; restart it to reload the config)'));
}

/**
 * A throw nothing caught is a bug, and the state it leaves is unknown: say what it was, in the
 * gateway's own log, and exit non-zero so whatever supervises the process (systemd, Docker,
 * Jeedom's deamon_info) starts it again. The journal keeps everything that was accepted.
 * Returns a function that removes the handlers.
 */
export function exitOnFatal(logger: Pick<PinoLogger, 'fatal'> & { flush?: () => void }, exit: (code: number) => void = (code) => process.exit(code)): () => void {
  const onFatal = (kind: string) => (error: unknown) => {
    logger.fatal({ err: error }, `${kind}: ${describeError(error)}; exiting (this is a bug: please report it with this line)`);
    logger.flush?.();
    exit(1);
  };
  const onException = onFatal('uncaught exception');
  const onRejection = onFatal('unhandled promise rejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
