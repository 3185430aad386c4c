import { setTimeout as delay } from 'node:timers/promises';
import { Backoff, describeError, ErrorCodes, PatchbayError, type Adapter, type HostContext, type OutboundEvent } from '@patchbay/core';
import { EmbeddedBus, type BusPorts } from './transport/bus/index.js';
import type { DomogikConfig } from './config.js';
import { SensorMap } from './protocol/mapping.js';
import { SensorReadings } from './protocol/sensorReadings.js';
import { MdpClient } from './transport/mq/client.js';
import { DomogikPublisher, DomogikSubscriber } from './transport/mq/pubsub.js';
import { answerBody, encodeReply, MdpWorker, type WorkerTiming } from './transport/mq/worker.js';
import { configValue, sanitizeHostname, type JsonObject, type PluginStatus } from './protocol/wire.js';
import { createRequestHandler } from './protocol/requests.js';

/** Retries of `config.get`/`device.get` while Domogik's admin is not answering (§11 preamble). */
const loadBackoff = { delays: [1000, 2000, 5000, 10_000, 30_000], jitter: 0.2 };

/** Test hooks: shorter worker timing. Not part of the config schema. */
export interface PluginInternals {
  workerTiming?: Partial<WorkerTiming>;
  /** On the embedded bus, register a socket worker anyway instead of the in-process service (benchmarks compare both). */
  socketWorker?: boolean;
}

/**
 * Patchbay as the Domogik plugin `plugin-<name>.<host>`: publisher, subscriber, MDP worker
 * and MDP client on the bus (§1), optionally on a bus it runs itself. On its own (embedded)
 * bus its sockets use `inproc://` and the broker answers the plugin's service by calling it
 * directly; Domogik programs see the same wire either way.
 *
 * "Nothing lost" here: state waits in the core's outbox (coalesced per channel) until the
 * publisher is connected, past its slow-joiner delay, and the sensor mapping is loaded;
 * `deliver` resolves once zeromq has queued the publication. Past that point pub/sub has no
 * acknowledgement (§4.4): a subscriber that is not connected, or a forwarder past its
 * high-water mark, misses it. The latest value of every channel is therefore re-published
 * when the mapping is (re)loaded and on the `refresh` helper (`helper.do`), which a late
 * subscriber (or xplgw after a restart) uses the way Domogik's tools use helpers.
 */
export class DomogikPlugin implements Adapter {
  readonly clientId: string;
  readonly host: string;
  private bus: EmbeddedBus | undefined;
  private publisher: DomogikPublisher | undefined;
  private subscriber: DomogikSubscriber | undefined;
  private worker: MdpWorker | undefined;
  private client: MdpClient | undefined;
  private detachLocal: (() => void) | undefined;
  private mapping = new SensorMap();
  private loaded = false;
  /** The MDP worker hears the broker (always, for the plugin served in-process by our own bus). */
  private linkUp = false;
  /** Ends the load's back-off pause early: the bus came up, or the run ends. */
  private wakeLoad: (() => void) | undefined;
  /** The last {@link reportConnection} text, so that only changes are told. */
  private connectionDetail: string | undefined;
  private running = false;
  private stopping: Promise<void> | undefined;
  private status: PluginStatus = 'starting';
  private statusTimer: NodeJS.Timeout | undefined;
  private abort: AbortController | undefined;
  /** This run's mapping loads: at most one in flight; `again` holds the reason for one more after it. */
  private loads: { running: boolean; again: string | undefined } = { running: false, again: undefined };
  private currentPorts: BusPorts | undefined;
  private readonly counters;
  private readonly readings: SensorReadings;

  constructor(
    private readonly config: DomogikConfig,
    private readonly ctx: HostContext,
    private readonly internals: PluginInternals = {},
  ) {
    this.host = config.host ?? sanitizeHostname();
    this.clientId = `plugin-${config.name}.${this.host}`;
    this.counters = {
      bad: ctx.counter('patchbay_domogik_bad_messages_total', 'Malformed Domogik MQ messages dropped'),
      reconnects: ctx.counter('patchbay_domogik_worker_reconnects_total', 'Times the MDP worker recreated its socket'),
      published: ctx.counter('patchbay_domogik_sensor_publications_total', 'client.sensor messages published'),
      unmapped: ctx.counter('patchbay_domogik_unmapped_states_total', 'State events with no Domogik sensor id'),
    };
    this.readings = new SensorReadings({ mapping: () => this.mapping, ctx, unmapped: this.counters.unmapped });
  }

  /** The bus ports in use (the embedded bus's real ports when configured with 0). */
  get ports(): BusPorts | undefined {
    return this.currentPorts;
  }

  /** The current `plugin.status` event. */
  get pluginStatus(): PluginStatus {
    return this.status;
  }

  /** The current sensor mapping. */
  get sensorMap(): SensorMap {
    return this.mapping;
  }

  async start(): Promise<void> {
    if (this.running) return;
    await this.stopping;
    this.running = true;
    this.abort = new AbortController();
    // A load of the previous run may still be winding down; it keeps its own state object.
    this.loads = { running: false, again: undefined };
    this.loaded = false;
    this.status = 'starting';
    const { config, ctx } = this;
    let ports: BusPorts = { reqRepPort: config.reqRepPort, pubPort: config.pubPort, subPort: config.subPort };
    const tcp = (p: number) => `tcp://${config.ip}:${p}`;
    let endpoints = { reqRep: tcp(ports.reqRepPort), pub: tcp(ports.pubPort), sub: tcp(ports.subPort) };
    try {
      if (config.bus === 'embedded') {
        const bus = new EmbeddedBus({ ip: config.ip, ...ports, logger: ctx.logger, badMessages: this.counters.bad, maxQueuedPerService: config.brokerMaxQueue, limits: { maxMessageBytes: config.busMaxMessageBytes, maxConnections: config.busMaxConnections } });
        ports = await bus.start();
        this.bus = bus;
        // Our own sockets reach our own bus in-process; Domogik programs use the TCP ports.
        endpoints = bus.inproc;
        ctx.logger.info({ ports }, `domogik: embedded bus on ${config.ip} (broker ${ports.reqRepPort}, pub ${ports.pubPort}, sub ${ports.subPort})`);
      }
    } catch (error) {
      this.running = false;
      throw error;
    }
    this.currentPorts = ports;
    this.publisher = new DomogikPublisher({ endpoint: endpoints.pub, joinDelayMs: config.joinDelayMs });
    this.subscriber = new DomogikSubscriber({
      endpoint: endpoints.sub,
      categories: ['device.update', 'plugin.configuration'],
      logger: ctx.logger,
      badMessages: this.counters.bad,
      onMessage: (category, data) => this.onPublication(category, data),
      maxMessageBytes: config.busMaxMessageBytes,
    });
    this.client = new MdpClient({ endpoint: endpoints.reqRep, timeoutFrame: config.timeoutFrame, logger: ctx.logger, badMessages: this.counters.bad, maxMessageBytes: config.busMaxMessageBytes });
    const handle = createRequestHandler({
      ctx,
      identity: { name: config.name, host: this.host },
      commandTimeoutMs: config.commandTimeoutMs,
      map: () => this.mapping,
      publishSnapshot: () => this.publishSnapshot(),
      requestStop: () => void this.stopRequested().catch(this.logFailure('stopping on plugin.stop.do')),
    });
    if (this.bus && !this.internals.socketWorker) {
      // On our own bus the broker calls the plugin directly: same wire for Domogik clients, two socket hops fewer.
      const bad = this.counters.bad;
      const malformed = (why: string) => {
        bad.inc();
        ctx.logger.warn(`domogik: dropped a malformed request to ${this.clientId}: ${why}`);
      };
      this.detachLocal = this.bus.broker.attachLocal(this.clientId, async (body) => {
        return encodeReply(await answerBody(body, { handle, logger: ctx.logger, malformed }), ctx.logger);
      });
      this.linkUp = true;
    } else {
      this.worker = new MdpWorker({
        endpoint: endpoints.reqRep,
        service: this.clientId,
        logger: ctx.logger,
        badMessages: this.counters.bad,
        reconnects: this.counters.reconnects,
        timing: this.internals.workerTiming,
        maxMessageBytes: config.busMaxMessageBytes,
        handle,
        onLink: (up) => {
          this.linkUp = up;
          this.reportConnection();
          // A load waiting for the bus to start tries again at once rather than at the end of its back-off.
          if (up && !this.loaded) this.wakeLoad?.();
        },
      });
      this.worker.start();
    }
    this.publisher.start();
    this.subscriber.start();
    // §7.2: `starting` at once (once the publisher may publish), then re-published every 15 s.
    void this.publishStatus('starting', '').catch(this.logFailure('publishing plugin.status'));
    this.statusTimer = setInterval(() => void this.publishStatus(this.status, '').catch(this.logFailure('publishing plugin.status')), config.statusIntervalMs);
    // Not alive yet: that is said once the mapping has loaded (the core keeps us `starting`).
    ctx.status('starting', 'waiting for the Domogik bus and the sensor mapping');
    this.reportConnection();
    this.requestLoad('start-up');
  }

  async stop(): Promise<void> {
    if (!this.running) return this.stopping;
    this.running = false;
    this.stopping = this.teardown(true);
    await this.stopping;
    this.stopping = undefined;
  }

  private async teardown(announce: boolean): Promise<void> {
    this.abort?.abort();
    this.wakeLoad?.();
    clearInterval(this.statusTimer);
    this.statusTimer = undefined;
    if (announce && this.publisher?.ready) {
      // §7.2: stop-request then stopped, handed to the socket before it closes.
      await this.publishStatus('stop-request', '').catch(() => undefined);
      await this.publishStatus('stopped', '').catch(() => undefined);
    }
    this.client?.close();
    this.detachLocal?.();
    this.detachLocal = undefined;
    await this.worker?.stop();
    await this.subscriber?.close();
    this.publisher?.close();
    await this.bus?.stop();
    this.bus = undefined;
    this.publisher = this.subscriber = this.worker = this.client = undefined;
    this.loaded = false;
    this.linkUp = false;
    this.reportConnection('stopped');
  }

  /**
   * Issue 14.2: connected means the bus link is up (the broker heard) and the sensor mapping is
   * loaded, the two things a Domogik host needs before any value reaches Domogik.
   */
  private reportConnection(stopped?: 'stopped'): void {
    const bus = this.config.bus === 'embedded' ? 'embedded bus' : 'bus';
    const detail = stopped
      ? 'stopped'
      : `${bus} ${this.linkUp ? 'up' : 'down (no broker heard yet)'}, ${this.loaded ? `mapping loaded (${this.mapping.size} sensor(s))` : 'mapping not loaded'}`;
    if (detail === this.connectionDetail) return;
    this.connectionDetail = detail;
    this.ctx.connection({ connected: !stopped && this.linkUp && this.loaded, detail });
  }

  /** `plugin.stop.do` (§7.3, §11.32): reply first (already queued), publish, then shut the host down. */
  private async stopRequested(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.ctx.logger.info('domogik: plugin.stop.do received; stopping the Domogik host (the gateway keeps running)');
    this.stopping = (async () => {
      // Let the worker's reply (queued before this runs) and the broker's relay of it leave first.
      await new Promise((resolve) => setTimeout(resolve, 250));
      await this.teardown(true);
      this.ctx.status('stopped', 'stopped by Domogik (plugin.stop.do)');
    })();
    await this.stopping;
    this.stopping = undefined;
  }

  private async publishStatus(event: PluginStatus, comment: string): Promise<void> {
    this.status = event;
    const publisher = this.publisher;
    if (!publisher) return;
    await publisher.whenReady();
    if (this.publisher !== publisher) return;
    // §7.2, §11.24: all five keys, strings, comment mandatory for 0.6.
    await publisher.publish('plugin.status', { type: 'plugin', name: this.config.name, host: this.host, event, comment }).catch((error: unknown) => {
      this.ctx.logger.warn({ err: error }, `domogik: publishing plugin.status ${event} failed: ${describeError(error)}`);
    });
  }

  /** The rejection handler of a promise nobody awaits: one error line, never an unhandled rejection. */
  private logFailure(what: string): (error: unknown) => void {
    return (error) => this.ctx.logger.error({ err: error }, `domogik: ${what} failed: ${describeError(error)}`);
  }

  /** Resolves after `ms`, or at once on abort; the timer's abort listener goes with it, so retries do not pile them up. */
  private async sleep(ms: number, signal: AbortSignal): Promise<void> {
    // Rejects only with the AbortError, which callers see as `signal.aborted`.
    await delay(ms, undefined, { signal }).catch(() => undefined);
  }

  /**
   * Runs {@link load}, one at a time: a load retries for as long as Domogik's admin is silent,
   * so each publication starting its own would pile up loops and REQ sockets. One arriving
   * during a load asks for a single reload after it, however many arrive.
   */
  private requestLoad(reason: string): void {
    const signal = this.abort?.signal;
    if (!signal) return;
    const loads = this.loads;
    if (loads.running) {
      loads.again = reason;
      this.ctx.logger.debug(`domogik: ${reason} while the sensor mapping is loading; it is loaded once more afterwards`);
      return;
    }
    loads.running = true;
    void (async () => {
      for (let next: string | undefined = reason; next !== undefined && !signal.aborted; next = loads.again) {
        loads.again = undefined;
        await this.load(signal, next);
      }
    })()
      .catch(this.logFailure('loading the sensor mapping'))
      .finally(() => {
        loads.running = false;
      });
  }

  /** §7.2, §11.25: configuration, then devices, then `alive`; retried with back-off while Domogik does not answer. */
  private async load(signal: AbortSignal, reason: string): Promise<void> {
    const { config, ctx } = this;
    const backoff = new Backoff(loadBackoff);
    let saidWaiting = false;
    const fromOptions = SensorMap.fromOptions(config);
    while (!signal.aborted) {
      try {
        if (config.configService === 'none') {
          this.mapping = fromOptions;
        } else {
          const service = await this.configServiceName();
          const identity = { type: 'plugin', name: config.name, host: this.host };
          const configured = await this.requireOk({ service, action: 'config.get', data: { ...identity, key: 'configured' }, timeoutMs: config.configTimeoutMs });
          if (signal.aborted) return;
          if (configValue(configured.value) !== true) {
            await this.notConfigured();
            return;
          }
          const devices = await this.requireOk({ service, action: 'device.get', data: identity, timeoutMs: config.deviceTimeoutMs });
          if (signal.aborted) return;
          // Domogik's definitions first; the options fill in what it does not define.
          this.mapping = SensorMap.fromOptions(config, SensorMap.fromDevices(devices.devices, ctx.logger));
        }
        break;
      } catch (error) {
        if (signal.aborted) return;
        const delay = backoff.next();
        if (!this.linkUp) {
          // No broker heard yet: the bus is starting (or not there yet), not failing. The host stays
          // `starting`, said once at info with no stack (issue 14.2); a reason without the delay keeps it one line.
          const waiting = `waiting for the Domogik bus at ${config.ip} (broker port ${this.currentPorts?.reqRepPort ?? config.reqRepPort}) to start: ${describeError(error)}`;
          if (!saidWaiting) ctx.logger.info(`domogik: ${waiting}; the host stays starting and events wait for it`);
          saidWaiting = true;
          ctx.status('starting', waiting);
        } else {
          ctx.status('unknown', `Domogik unreachable: ${describeError(error)}; retrying in ${delay} ms`);
        }
        // The pause ends early when the bus comes up or the run ends (teardown wakes it).
        const wake = new AbortController();
        this.wakeLoad = () => wake.abort();
        await this.sleep(delay, wake.signal);
        this.wakeLoad = undefined;
      }
    }
    if (signal.aborted) return;
    // Alive means deliverable: the publisher must also be past its slow-joiner delay, or the
    // first deliveries are refused and the host looks unreachable a moment after it is alive.
    await this.publisher?.whenReady();
    if (signal.aborted) return;
    this.loaded = true;
    this.reportConnection();
    this.readings.mappingLoaded();
    ctx.logger.info({ sensors: this.mapping.size }, `domogik: ${reason}: ${this.mapping.size} sensor(s) mapped; ${this.clientId} is alive`);
    ctx.status('alive');
    await this.publishStatus('alive', '');
    await this.publishSnapshot();
  }

  private async configServiceName(): Promise<string> {
    const choice = this.config.configService;
    if (choice !== 'auto') return choice;
    // §10: dbmgr registered → 0.4/0.5, else admin.
    const answer = await (this.client as MdpClient).mmi({ service: 'mmi.service', body: 'dbmgr', timeoutMs: 5000 });
    return answer === '200' ? 'dbmgr' : 'admin';
  }

  private async requireOk(request: { service: string; action: string; data: JsonObject; timeoutMs: number }): Promise<JsonObject> {
    const client = this.client;
    if (!client) throw new PatchbayError(ErrorCodes.HOST_UNREACHABLE, 'stopped');
    const { service, action } = request;
    const reply = await client.request(request);
    if (reply.data.status === false) {
      throw new PatchbayError(ErrorCodes.HOST_UNREACHABLE, `${service} refused ${action}: ${String(reply.data.reason ?? 'no reason')}`, { context: { service, action } });
    }
    return reply.data;
  }

  /** §7.2: not configured → publish `not-configured` and stop the Domogik host. */
  private async notConfigured(): Promise<void> {
    this.ctx.logger.warn(`domogik: ${this.clientId} is not configured in Domogik (config key "configured" is not true); stopping the Domogik host`);
    this.running = false;
    await this.publishStatus('not-configured', 'configure the plugin in Domogik, then start it');
    this.stopping = this.teardown(false);
    await this.stopping;
    this.stopping = undefined;
    this.ctx.status('stopped', 'not configured in Domogik');
  }

  private onPublication(category: string, data: JsonObject): void {
    if (!this.running || !this.abort) return;
    if (category === 'device.update') {
      // §7.7, §11.29: ours when client_id is absent or equal to our client id.
      if (data.client_id !== undefined && data.client_id !== this.clientId) return;
      this.requestLoad('device.update');
      return;
    }
    if (category === 'plugin.configuration' && data.name === this.config.name && data.host === this.host && (data.type ?? 'plugin') === 'plugin') {
      this.requestLoad('plugin.configuration');
    }
  }

  /** Publishes the retained value of every mapped channel (§7.5); resolves with how many. */
  async publishSnapshot(): Promise<number> {
    const publisher = this.publisher;
    if (!publisher || !this.loaded) return 0;
    await publisher.whenReady();
    let count = 0;
    try {
      for (const device of this.ctx.snapshot().devices) {
        for (const channel of device.channels) {
          const payload = this.readings.message({ device: device.device, channel: channel.channel, value: channel.value, time: channel.time });
          if (!payload || this.publisher !== publisher) continue;
          await publisher.publish('client.sensor', payload);
          this.counters.published.inc();
          count++;
        }
      }
    } catch (error) {
      // Only when stopping closed the socket meanwhile; the outbox still holds live state.
      this.ctx.logger.debug({ err: error }, `domogik: snapshot publication interrupted: ${describeError(error)}`);
    }
    return count;
  }

  private ensureReady(): DomogikPublisher {
    const publisher = this.publisher;
    if (!this.running || !publisher) throw new PatchbayError(ErrorCodes.HOST_UNREACHABLE, `the Domogik host is ${this.status}`);
    if (!this.loaded || !publisher.ready) throw new PatchbayError(ErrorCodes.HOST_UNREACHABLE, 'waiting for the Domogik bus and the sensor mapping');
    return publisher;
  }

  deliver(event: OutboundEvent): Promise<void> | void {
    // A momentary event (a press) is one more reading of its sensor: xplgw keeps each one when the sensor's history keeps duplicates.
    if (event.kind !== 'state' && event.kind !== 'momentary') return;
    const publisher = this.ensureReady();
    const payload = this.readings.message(event);
    if (!payload) return;
    this.counters.published.inc();
    return publisher.publish('client.sensor', payload);
  }

  /** One `client.sensor` message carries several sensors (§7.5): a batch goes in as few as its timestamps and repeated sensors allow. */
  deliverBatch(events: readonly OutboundEvent[]): Promise<void> | void {
    const publisher = this.ensureReady();
    let last: Promise<void> | undefined;
    for (const message of this.readings.messages(events)) {
      this.counters.published.inc();
      last = publisher.publish('client.sensor', message);
    }
    // Sends are serialised: the last one settling means every earlier one was queued. Settled
    // only after the loop's check phase: the devices whose timers fire in this turn report one
    // tick each, and would each be a batch and a send of their own (5,000 sends/s at 10,000
    // values/s); held, they queue in the outbox and go as the next batch, in one publication.
    return last?.then(afterThisTurn);
  }
}

/** Resolves once the event loop has run what is due in this turn (its timers included). */
function afterThisTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The definition's `create`: one plugin per run of the host. */
export function createDomogikAdapter(config: DomogikConfig, ctx: HostContext): Adapter {
  return new DomogikPlugin(config, ctx);
}
