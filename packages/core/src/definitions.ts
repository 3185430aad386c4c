import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { z } from 'zod';
import type { DeviceDescription, DeviceDescriptionInput } from './description.js';
import { ErrorCodes, PatchbayError } from './errors.js';
import type { CommandEvent, CommandInput, EndpointStatus, JsonValue, Meta, OutboundEvent, ReplyEvent, ReplyInit } from './events.js';
import type { Logger } from './logger.js';
import type { Counter } from './metrics.js';
import type { GatewayHealth, StateSnapshot, DeviceInfo } from './health.js';
import type { InputBudget } from './inputBudget.js';

/** What every driver and adapter gets from the core. */
export interface EndpointContext {
  /** The device or host id from the config. */
  readonly id: string;
  /** The gateway's name (`gateway.name`), for protocols that announce themselves. */
  readonly gatewayName: string;
  /** A child logger bound to this endpoint. */
  readonly logger: Logger;
  /** Aborted when `stop()` begins: pass it to timers, sockets and loops started in `start()`. */
  readonly signal: AbortSignal;
  /** A counter bound to this endpoint, exported on `/metrics`. */
  counter(name: string, help: string): Counter;
  /** Report this endpoint's own status (a lost connection, a reconnect). Logged once per transition. */
  status(status: EndpointStatus, reason?: string): void;
  /** Report a fatal failure: the supervisor stops and restarts this endpoint with back-off. */
  fail(error: unknown): void;
}

/** The context of a device driver. */
export interface DriverContext extends EndpointContext {
  /** Report a channel's value. The core stamps id, time and origin, stores it and routes it. */
  emit(channel: string, value: JsonValue, meta?: Meta): void;
  /**
   * Say what the device is: at start, and again whenever that changes (a scan found more).
   * Validated here: a description that fails its schema is refused with one log line, and
   * the previous one (if any) stays.
   */
  describe(description: DeviceDescriptionInput): void;
  /** Report a momentary event (a press, a pulse). `emit` on a channel of kind `event` does the same. */
  momentary(channel: string, value?: JsonValue, meta?: Meta): void;
  /**
   * Report whether the device itself answers (`offline` after timeouts, a pulled cable), with
   * why. The next value the device reports brings it back `online`.
   */
  availability(availability: 'online' | 'offline', reason?: string): void;
}

/** Options of {@link HostContext.submit}. */
export interface SubmitOptions {
  /**
   * Also put the reply in this host's outbox, journaled and retried like any event, for
   * protocols that push replies back later (Jeedom's callback, Tracim's client socket).
   */
  deliverReply?: boolean;
  /** Overrides the gateway's command timeout for this command. */
  timeoutMs?: number;
  /**
   * Called once, when the command is accepted: it passed the gateway's checks and, with
   * `deliverReply` and a journal, it is journaled, so a crash from then on still gets it a
   * reply (`PB210` after the restart). Protocols that acknowledge receipt (Jeedom closing
   * its socket) do so here, not before. Not called for a command refused before that point:
   * its refusal is the reply. Called before the device is asked.
   */
  onAccepted?: () => void;
  /**
   * With `deliverReply`: called instead of queueing the reply when the host's outbox has no
   * room for one (a refusal while its replies pile up). The reply still resolves `submit`;
   * a protocol that only answers through the outbox (Jeedom's callback) sends it out of band
   * here, so every command still gets its one reply (issue 13.3).
   */
  onUnqueued?: (reply: ReplyEvent) => void;
}

/** What a host is connected to, as its adapter reports it. */
export interface HostConnection {
  /** A peer of the platform is there (a client, the callback, the bus). */
  connected: boolean;
  /** How many peers, where the protocol has several (ws and Tracim clients, Comodojo connections). */
  peers?: number;
  /** A short human text: "callback answers", "2 clients", "bus up, mapping loaded". */
  detail?: string;
}

/** A handler for one HTTP path on the gateway's own HTTP server. */
export type HttpHandler = (request: IncomingMessage, response: ServerResponse) => void;
/** A handler for an HTTP upgrade (WebSocket) on one path. */
export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** The gateway's HTTP server, for adapters that serve on it (the WebSocket API, the status page). */
export interface HttpMount {
  /** Serve `path` (exact match, any method). Returns a function that removes the route. */
  route(path: string, handler: HttpHandler): () => void;
  /** Handle upgrades on `path`. Returns a function that removes the handler. */
  upgrade(path: string, handler: UpgradeHandler): () => void;
}

/** The context of a host adapter. */
export interface HostContext extends EndpointContext {
  /**
   * Submit a command decoded from the host's protocol. Always resolves with exactly one
   * reply: the device's, or a failed one (unknown device, timeout, paused...). Never rejects.
   */
  submit(command: CommandInput, options?: SubmitOptions): Promise<ReplyEvent>;
  /** The current state of every device routed to this host. */
  snapshot(): StateSnapshot;
  /** Every device routed to this host, with its status and whether it is paused. */
  devices(): DeviceInfo[];
  /** Pause or resume a device's traffic (its state is not routed, commands are refused). False if unknown. */
  setPaused(device: string, paused: boolean): boolean;
  /** What a routed device is, as its driver described it; undefined if it has not (yet). */
  description(device: string): DeviceDescription | undefined;
  /** The gateway's health, as `/healthz` serves it. */
  health(): GatewayHealth;
  /**
   * Say what the host is connected to, apart from whether the adapter runs: the callback
   * answers, N clients are registered, the bus link is up. Shown per host in `/healthz`
   * and as `patchbay_host_connected`/`patchbay_host_peers` on `/metrics`; logged on a change of `connected`.
   */
  connection(connection: HostConnection): void;
  /**
   * Ask whoever runs the gateway to stop it, gracefully (a platform's own "stop the daemon"
   * command). The app stops as on SIGTERM; a gateway embedded in a program without a stop
   * handler logs the request and keeps running. Never stops the process itself.
   */
  requestStop(reason: string): void;
  /** The gateway's HTTP server, when the app runs one. */
  readonly http: HttpMount | undefined;
  /**
   * The gateway-wide budget for unfinished client input, shared by every listener of every
   * host (issue 13.7). A listener that holds partial messages draws the bytes it holds on its
   * own budget and on this one, gives them back when the message completes or the connection
   * closes, and refuses the input that a failed take would have held.
   */
  readonly inputBudget: InputBudget;
}

/** A device driver, as made by its definition's `create`. Does nothing until `start()`. */
export interface Driver {
  start(): Promise<void> | void;
  /** Undoes everything `start()` did. */
  stop(): Promise<void> | void;
  /** Carry out a command; the core adds the timeout. Throwing is a failed reply. */
  send(command: CommandEvent): Promise<ReplyInit> | ReplyInit;
}

/** A host adapter, as made by its definition's `create`. Does nothing until `start()`. */
export interface Adapter {
  start(): Promise<void> | void;
  /** Undoes everything `start()` did. */
  stop(): Promise<void> | void;
  /**
   * Hand one event to the host. Return (or resolve) once the host has it. Throw (or reject)
   * to have the outbox keep it and retry with back-off; a `PatchbayError` with code
   * `EVENT_REJECTED` instead drops it as undeliverable (counted and logged).
   */
  deliver(event: OutboundEvent): Promise<void> | void;
  /**
   * Optional: hand over everything queued at once (at most `maxBatch`). When present the
   * outbox uses it instead of `deliver` for queued events. All or nothing: throwing retries the batch;
   * throwing `EVENT_REJECTED` makes the outbox retry its events one by one through `deliver`,
   * so that only those refused on their own are dropped.
   */
  deliverBatch?(events: readonly OutboundEvent[]): Promise<void> | void;
}

/** What an embedded-default options function gets (`patchbay run` without a config). */
export interface EmbeddedContext {
  /** The gateway's data directory (absolute or relative to the working directory). */
  readonly dataDir: string;
  /** The environment the CLI was started with (read nowhere else). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** `env[variable]` as a port when set, else `standard`; a bad value throws `CONFIG_INVALID` naming the variable. */
  port(variable: string, standard: number): number;
  /** `env[variable]` when set, else a random secret kept in `<dataDir>/<file>` (0600), created on first use. */
  secret(file: string, variable?: string): string;
}

/** How a built-in runs in the embedded default, all on localhost, no platform needed. */
export interface EmbeddedDefaults {
  /** The endpoint's `options` in the embedded default. */
  options(ctx: EmbeddedContext): unknown;
  /** The environment variables that move its listening ports (for messages such as EADDRINUSE). */
  portVariables?: readonly string[];
}

interface DefinitionBase<Kind extends string, Schema extends z.ZodType, Context, Instance> {
  kind: Kind;
  /** The name configs use (`driver: sim`, `adapter: jeedom`). */
  type: string;
  /** One line for `patchbay check` and the README. */
  description?: string;
  /** Validates and defaults the endpoint's `options`. */
  config: Schema;
  create(config: z.output<Schema>, ctx: Context): Instance;
  /** The `@patchbay/core` version range this was built for (e.g. `^0.1.0`); a mismatch is `CORE_INCOMPATIBLE` at load. */
  coreVersion?: string;
  /** Its options in the embedded default, when it takes part in it. */
  embedded?: EmbeddedDefaults;
  /**
   * Optional, for endpoints that listen: the most bytes of unfinished client input its
   * listeners hold at once with these options (issue 13.7). The gateway adds these up against
   * `gateway.maxBufferedBytes` and warns when the sum is over it.
   */
  inputBudgetBytes?(config: z.output<Schema>): number;
}

/** What a driver package default-exports. */
export type DriverDefinition<Schema extends z.ZodType = z.ZodType> = DefinitionBase<'driver', Schema, DriverContext, Driver>;
/** What an adapter package default-exports. */
export type AdapterDefinition<Schema extends z.ZodType = z.ZodType> = DefinitionBase<'adapter', Schema, HostContext, Adapter>;
/** Either kind of definition. */
export type AnyDefinition = DriverDefinition | AdapterDefinition;

/** Declares a driver; the identity function, for type inference. */
export function defineDriver<Schema extends z.ZodType>(definition: Omit<DriverDefinition<Schema>, 'kind'>): DriverDefinition<Schema> {
  return { kind: 'driver', ...definition };
}

/** Declares a host adapter; the identity function, for type inference. */
export function defineAdapter<Schema extends z.ZodType>(definition: Omit<AdapterDefinition<Schema>, 'kind'>): AdapterDefinition<Schema> {
  return { kind: 'adapter', ...definition };
}

/**
 * Checks a loaded module's default export is a usable definition of the expected kind,
 * listing every problem at once (the way fastify checks plugins).
 */
export function assertDefinition<K extends AnyDefinition['kind']>(
  value: unknown,
  expected: { kind: K; source: string },
): asserts value is Extract<AnyDefinition, { kind: K }> {
  const problems: string[] = [];
  const candidate = value as Partial<Record<keyof AnyDefinition, unknown>> | null | undefined;
  if (typeof candidate !== 'object' || candidate === null) {
    problems.push(`expected an object, got ${candidate === null ? 'null' : typeof candidate}`);
  } else {
    if (candidate.kind !== expected.kind) problems.push(`"kind" must be "${expected.kind}", got ${JSON.stringify(candidate.kind)}`);
    if (typeof candidate.type !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/i.test(candidate.type)) {
      problems.push(`"type" must be a non-empty name of letters, digits, ".", "_" or "-", got ${JSON.stringify(candidate.type)}`);
    }
    const config = candidate.config as { safeParse?: unknown } | undefined;
    if (typeof config !== 'object' || config === null || typeof config.safeParse !== 'function') {
      problems.push('"config" must be a zod schema');
    }
    if (typeof candidate.create !== 'function') problems.push('"create" must be a function (config, ctx) => instance');
  }
  if (problems.length > 0) {
    throw new PatchbayError(ErrorCodes.DEFINITION_INVALID, `${expected.source} is not a valid ${expected.kind} definition: ${problems.join('; ')}`, {
      context: { source: expected.source, problems },
    });
  }
}

/** Checks a created instance has the methods its kind needs. */
export function assertInstance(instance: unknown, expected: { kind: AnyDefinition['kind']; type: string }): void {
  const methods = expected.kind === 'driver' ? ['start', 'stop', 'send'] : ['start', 'stop', 'deliver'];
  const missing = methods.filter((m) => typeof (instance as Record<string, unknown> | null)?.[m] !== 'function');
  if (missing.length > 0) {
    throw new PatchbayError(ErrorCodes.DEFINITION_INVALID, `${expected.kind} "${expected.type}": create() returned an object without ${missing.join(', ')}`, {
      context: { type: expected.type, missing },
    });
  }
}
