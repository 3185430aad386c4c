import { defineAdapter, describeError, PatchbayError, type Adapter, type AdapterDefinition } from '@patchbay/core';
import { parseAddress } from './transport/address.js';
import { comodojoConfig } from './config.js';
import { addGatewayMethods } from './gatewayMethods.js';
import { MethodRegistry } from './protocol/registry.js';
import { DecodePool } from './protocol/decodePool.js';
import { RpcEngine } from './protocol/rpcEngine.js';
import { ComodojoServer, SOCKET_PATH_UNUSABLE } from './transport/server.js';
import { addSystemMethods } from './protocol/systemMethods.js';

/** The adapter instance: the core's {@link Adapter} plus the bound address and the method registry. */
export interface ComodojoAdapter extends Adapter {
  /** The bound socket as a URI (`tcp://127.0.0.1:41234`, `unix:///run/x.sock`), once started. */
  address(): string | undefined;
  /** The method registry: project methods may be added after the built-ins (§4.6). */
  readonly methods: MethodRegistry;
  /** Open connections, and the input they hold against `maxBufferedBytes` (the listener's own accounting). */
  load(): { connections: number; bufferedBytes: number; peakBufferedBytes: number };
}

/** How long the host still counts as connected after its last connection closed (clients connect per call). */
const DISCONNECT_GRACE_MS = 5000;

/** Options of {@link createComodojoDefinition}. */
export interface ComodojoDefinitionOptions {
  /**
   * What `daemon.shutdown` does once its answer is written, when allowed. An adapter cannot
   * stop the gateway itself: the default asks whoever runs it (`ctx.requestStop`).
   */
  shutdown?: () => void;
  /** Registers project methods after the built-ins, like the reference daemon's `setup()` (§4.6). */
  setup?: (methods: MethodRegistry) => void;
}

/** Builds the `comodojo` adapter definition (the default export uses the default shutdown hook). */
export function createComodojoDefinition(options: ComodojoDefinitionOptions = {}): AdapterDefinition<typeof comodojoConfig> {
  return defineAdapter({
    type: 'comodojo',
    description: 'comodojo/daemon RPC socket: JSON-RPC 2.0 and XML-RPC over base64 PHP-serialised frames (pull: device.state, device.command)',
    config: comodojoConfig,
    // The listener's budget, and the first 64 KiB each connection holds outside it (13.7).
    inputBudgetBytes: (config) => config.maxBufferedBytes + config.maxConnections * 64 * 1024,
    create(config, ctx): ComodojoAdapter {
      const methods = new MethodRegistry();
      const internalErrors = ctx.counter('patchbay_comodojo_internal_errors_total', 'Methods that failed unexpectedly (answered -32603)');
      const onInternal = (error: unknown) => {
        internalErrors.inc();
        ctx.logger.error({ err: error }, `comodojo: a method failed unexpectedly: ${describeError(error)}`);
      };
      const badRequests = ctx.counter('patchbay_comodojo_bad_requests_total', 'Unparseable or invalid RPC payloads (-32700, -32600, -32300)');
      const onBadRequest = (reason: string) => {
        badRequests.inc();
        ctx.logger.warn({ reason }, `comodojo: bad request: ${reason}`);
      };
      // §4.4 then §4.5 then Patchbay's own: the order system.listMethods reports.
      addSystemMethods(methods, onInternal);
      const shutdown = options.shutdown ?? (() => ctx.requestStop('daemon.shutdown was called over the Comodojo socket'));
      addGatewayMethods(methods, { ctx, allowShutdown: config.allowShutdown, shutdown });
      options.setup?.(methods);
      const counters = {
        connections: ctx.counter('patchbay_comodojo_connections_total', 'Client connections accepted'),
        rejected: ctx.counter('patchbay_comodojo_rejected_connections_total', 'Connections refused over maxConnections'),
        evicted: ctx.counter('patchbay_comodojo_evicted_connections_total', 'Idle connections closed at maxConnections to serve a new one'),
        badFrames: ctx.counter('patchbay_comodojo_bad_frames_total', 'Malformed, oversized or stalled request frames'),
        requests: ctx.counter('patchbay_comodojo_requests_total', 'Request frames received'),
      };
      let server: ComodojoServer | undefined;
      // Issue 14.2: a comodojo client is there while it holds a connection. The stock client
      // connects once per call, so "gone" is said only after a grace without any connection:
      // a client polling every second is one connected peer, not two log lines a second.
      let graceTimer: NodeJS.Timeout | undefined;
      const connections = (open: number, final?: 'stopped' | 'listening') => {
        clearTimeout(graceTimer);
        graceTimer = undefined;
        const detail = final === 'stopped' ? 'stopped' : `${open} connection${open === 1 ? '' : 's'}`;
        if (open > 0 || final !== undefined) {
          ctx.connection({ connected: open > 0, peers: open, detail });
          return;
        }
        ctx.connection({ connected: true, peers: 0, detail: `0 connections (the last closed under ${DISCONNECT_GRACE_MS / 1000} s ago)` });
        graceTimer = setTimeout(() => ctx.connection({ connected: false, peers: 0, detail }), DISCONNECT_GRACE_MS);
        graceTimer.unref();
      };
      return {
        methods,
        address: () => server?.address(),
        load: () => ({ connections: server?.open ?? 0, bufferedBytes: server?.buffered ?? 0, peakBufferedBytes: server?.peakBuffered ?? 0 }),
        async start() {
          const engine = new RpcEngine({ registry: methods, encryptionKey: config.encryptionKey, onInternal, onBadRequest });
          const next = new ComodojoServer({
            address: parseAddress(config.socket),
            socketMode: config.socketMode,
            maxConnections: config.maxConnections,
            maxFrameBytes: config.maxFrameBytes,
            maxBufferedBytes: config.maxBufferedBytes,
            gatewayBudget: ctx.inputBudget,
            frameTimeoutMs: config.frameTimeoutMs,
            engine,
            decoder: new DecodePool({ encryptionKey: config.encryptionKey, registry: methods }),
            logger: ctx.logger,
            counters,
            onConnections: (open) => {
              if (server === next) connections(open);
            },
          });
          try {
            await next.start();
          } catch (error) {
            if (error instanceof PatchbayError && error.context.reason === SOCKET_PATH_UNUSABLE) {
              // Every restart would fail the same way: this host stops here, said once, with the reason in /healthz.
              ctx.status('dead', `${error.message} This host is not restarted.`);
              return;
            }
            throw error;
          }
          server = next;
          connections(0, 'listening');
          ctx.logger.info({ socket: next.address() }, `comodojo RPC socket listening on ${next.address()}`);
        },
        async stop() {
          const current = server;
          server = undefined;
          await current?.stop();
          if (current) connections(0, 'stopped');
        },
        // Comodojo is a pull protocol: hosts ask device.state, so nothing is pushed and
        // delivery is immediate (state is served from the core's snapshot).
        deliver() {},
      };
    },
  });
}
