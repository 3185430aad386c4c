import type { AddressInfo } from 'node:net';
import type { ClusterHost } from '@patchbay/cluster';
import { createGateway, ErrorCodes, PatchbayError, type AdapterDefinition, type EndpointSpec, type Gateway, type ReloadResult } from '@patchbay/core';
import { FileJournal } from '@patchbay/journal';
import type { Logger as PinoLogger } from 'pino';
import { redactSecrets } from '../config/redact.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { CLUSTER_HOST_ID } from '../config/schema.js';
import type { Metrics } from '../http/metrics.js';
import type { GatewayHttp } from '../http/server.js';
import { createLogger } from './logger.js';
import { removePidFile, writePidFile } from './pidFile.js';
import { reloadRoute, restartOnlyChanges, type ReloadReport } from './reload.js';
import { requireHttpTokens } from './tokens.js';
import { prepareDataDir } from '../config/dataDir.js';

/** How to run a resolved config. */
export interface RunOptions {
  /** Write `<pid>\n` here at start and remove it on a clean stop (a mode that wrote it earlier passes none). */
  pidFile?: string | undefined;
  /** A ready logger (a mode brings its own format); otherwise built from `config.log`. */
  logger?: PinoLogger;
  /** Where the config came from, for the start-up log line. */
  source?: string;
  /** Where `gateway.http.port` can be moved from, for the "address in use" message. */
  httpPortHint?: string;
  /** A host asked the gateway to stop (Comodojo's `daemon.shutdown`): stop as on SIGTERM. */
  onStopRequested?: (request: { host: string; reason: string }) => void;
}

/** A running gateway and how to stop it. */
export interface RunningGateway {
  gateway: Gateway;
  logger: PinoLogger;
  /** The HTTP server's bound address, when enabled. */
  http: AddressInfo | undefined;
  /** Stop devices, drain outboxes up to `gateway.drainTimeoutMs`, journal the rest, close HTTP, remove the pid file. */
  stop(): Promise<void>;
  /**
   * Apply a new resolved config: devices, hosts and routes restart only where they changed;
   * gateway-wide settings that need a restart are named, and kept as they were.
   */
  reload(next: ResolvedConfig): Promise<{ result: ReloadResult; needsRestart: string[] }>;
  /** Serve `POST /reload` with this loader (the CLI's own config pipeline). */
  serveReload(reload: () => Promise<ReloadReport>): void;
}

/** Starts everything a resolved config describes: the one way every launch runs a gateway. */
export async function runGateway(input: ResolvedConfig, options: RunOptions = {}): Promise<RunningGateway> {
  const logger = options.logger ?? createLogger(input.config.log);
  if (options.pidFile) writePidFile(options.pidFile);
  try {
    prepareDataDir(input.dataDir);
    const resolved = requireHttpTokens(input, logger);
    const { config } = resolved;
    // Loaded only when used: prom-client, and the cluster's MQTT client, are a third of a
    // bare launch's module loading (Jeedom's daemon mode has neither).
    const served = config.gateway.http.enabled ? await httpServer(config.gateway.http, logger) : undefined;
    const metrics = served?.metrics;
    const http = served?.http;
    const address = http ? await listen(http, config.gateway.http, options.httpPortHint) : undefined;
    const journalConfig = config.gateway.journal;
    const journal = resolved.journalDir
      ? new FileJournal({
          dir: resolved.journalDir,
          fsync: journalConfig.fsync,
          fsyncIntervalMs: journalConfig.fsyncIntervalMs,
          segmentBytes: journalConfig.segmentBytes,
          logger: logger.child({ component: 'journal' }),
        })
      : undefined;
    // The cluster link is one more host, made here because it needs the gateway it runs in.
    const holder: { gateway?: Gateway } = {};
    const cluster = config.cluster ? (await import('@patchbay/cluster')).createClusterHost({ registry: () => holder.gateway as Gateway, commandTimeoutMs: config.gateway.commandTimeoutMs }) : undefined;
    const withCluster = (next: ResolvedConfig): EndpointSpec<AdapterDefinition>[] => clusterHosts(next, cluster);
    const gateway = createGateway({
      name: config.gateway.name,
      devices: resolved.devices,
      // Raw options: the core parses them with each definition's schema, and a schema's output
      // need not parse again (a transform that renames a deprecated key, say).
      hosts: withCluster(resolved),
      routes: clusterRoutes(resolved, cluster),
      remoteRoutes: cluster !== undefined,
      logger,
      metrics,
      journal,
      http,
      commandTimeoutMs: config.gateway.commandTimeoutMs,
      eventTtlMs: config.gateway.eventTtlMs,
      stallTimeoutMs: config.gateway.stallTimeoutMs,
      maxBufferedBytes: config.gateway.maxBufferedBytes,
      outbox: resolved.outbox,
      onStopRequested: options.onStopRequested,
      clusterHealth: cluster && (() => cluster.health()),
    });
    holder.gateway = gateway;
    metrics?.watch(gateway);
    http?.watch(gateway);
    await gateway.start();
    logger.info(
      {
        source: options.source,
        http: address ? `http://${address.address}:${address.port}` : 'disabled',
        devices: resolved.devices.map((d) => `${d.id} (${d.definition.type})`),
        hosts: resolved.hosts.map((h) => `${h.id} (${h.definition.type})`),
        journal: resolved.journalDir ? { dir: resolved.journalDir, fsync: journalConfig.fsync } : 'off',
      },
      `patchbay "${config.gateway.name}" started`,
    );
    // Copying a 10,000-device config to redact it costs ~0.6 s of start-up: only when it is logged.
    if (logger.isLevelEnabled('debug')) logger.debug({ config: redactSecrets(config) }, 'resolved config');
    let stopping: Promise<void> | undefined;
    let current = resolved;
    return {
      async reload(next) {
        const withTokens = requireHttpTokens(next, logger);
        const needsRestart = restartOnlyChanges(current, withTokens);
        const result = await gateway.reload({ devices: withTokens.devices, hosts: withCluster(withTokens), routes: clusterRoutes(withTokens, cluster) });
        current = { ...withTokens, config: { ...withTokens.config, gateway: current.config.gateway, log: current.config.log } };
        return { result, needsRestart };
      },
      serveReload(reload) {
        http?.route(
          '/reload',
          reloadRoute({
            // Any host's token opens it, as a client of that host could drive devices anyway.
            tokens: () => [...current.options.values()].flatMap((o) => (o && typeof o === 'object' && typeof (o as { token?: unknown }).token === 'string' ? [(o as { token: string }).token] : [])),
            reload,
          }),
        );
      },
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

/** The config's hosts, and the cluster link when there is a `cluster` section (its settings are read at start only). */
function clusterHosts(resolved: ResolvedConfig, cluster: ClusterHost | undefined): EndpointSpec<AdapterDefinition>[] {
  const section = resolved.config.cluster;
  if (cluster === undefined || section === undefined) return resolved.hosts;
  const options = { ...section, gateway: section.gateway ?? resolved.config.gateway.name };
  return [...resolved.hosts, { id: CLUSTER_HOST_ID, definition: cluster.definition as AdapterDefinition, options }];
}

/** With routes, every device of this gateway is also routed to the cluster link: the cluster shares them all. */
function clusterRoutes(resolved: ResolvedConfig, cluster: ClusterHost | undefined): ResolvedConfig['config']['routes'] {
  const routes = resolved.config.routes;
  if (cluster === undefined || resolved.config.cluster === undefined || routes === undefined || routes.length === 0 || resolved.devices.length === 0) return routes;
  return [...routes, { devices: resolved.devices.map((d) => d.id), hosts: [CLUSTER_HOST_ID] }];
}

/** Listens, turning a busy address into one line that says how to move it. */
async function listen(http: GatewayHttp, at: { host: string; port: number }, hint = 'gateway.http.port'): Promise<AddressInfo> {
  try {
    return await http.listen(at.host, at.port);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const address = `${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}`;
    if (code === 'EADDRINUSE') {
      throw new PatchbayError(ErrorCodes.START_FAILED, `cannot serve HTTP on ${address}: the address is in use by another process (move it with ${hint})`, { context: { address, code }, cause: error });
    }
    if (code === 'EADDRNOTAVAIL' || code === 'EACCES') {
      throw new PatchbayError(ErrorCodes.START_FAILED, `cannot serve HTTP on ${address}: ${code} (change it with ${hint} or gateway.http.host)`, { context: { address, code }, cause: error });
    }
    throw error;
  }
}

/** `/healthz`, `/metrics` and what hosts mount, with the Prometheus registry behind `/metrics`. */
async function httpServer(options: ResolvedConfig['config']['gateway']['http'], logger: PinoLogger): Promise<{ metrics: Metrics; http: GatewayHttp }> {
  const [{ Metrics }, { GatewayHttp }] = await Promise.all([import('../http/metrics.js'), import('../http/server.js')]);
  const metrics = new Metrics();
  return { metrics, http: new GatewayHttp(metrics, logger.child({ component: 'http' }), options) };
}
