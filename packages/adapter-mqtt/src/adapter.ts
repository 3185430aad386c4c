import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  defineAdapter,
  describeError,
  ErrorCodes,
  PatchbayError,
  quoteForLog,
  type Adapter,
  type AdapterDefinition,
  type Availability,
  type CommandInput,
  type HostContext,
  type OutboundEvent,
  type ReplyEvent,
} from '@patchbay/core';
import type { IPublishPacket } from 'mqtt';
import { mqttConfig, type MqttConfig } from './config.js';
import type { ChannelInfo, DeviceInfoDescription } from './protocol/description.js';
import { bridgeDiscovery, deviceDiscovery, discoveryFilter, nodeIdFor, sanitizeId, type DiscoveryContext, type DiscoveryMessage } from './protocol/discovery.js';
import { decodeCommand, encodeEvent, encodeReply, encodeState } from './protocol/payload.js';
import { channelIdProblem, deviceIdProblem, Topics } from './protocol/topics.js';
import { EmbeddedBroker, packetLimit } from './transport/broker.js';
import { brokerSettings, openClient, redactUrl, untilFirstConnect, wireClient, type MqttClient } from './transport/client.js';

/** The adapter instance: the core's {@link Adapter} plus what tests and benches read. */
export interface MqttAdapter extends Adapter {
  /** The broker URL in use (the embedded broker's, with its bound port), once started; without credentials. */
  brokerUrl(): string | undefined;
  /** True while connected to the broker and subscribed. */
  readonly connected: boolean;
}

/** Failed replies that mean the command itself was bad: each is one warning (the core only counts them). */
const REFUSALS: ReadonlySet<string> = new Set<string>([ErrorCodes.COMMAND_INVALID, ErrorCodes.READ_ONLY, ErrorCodes.VALUE_INVALID, ErrorCodes.UNKNOWN_DEVICE, ErrorCodes.NOT_ROUTED]);

/** How long after start a command for a device that has not started yet waits for it. */
const START_GRACE_MS = 10_000;

const version: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

function unreachable(message: string): PatchbayError {
  return new PatchbayError(ErrorCodes.HOST_UNREACHABLE, message);
}

/** The embedded broker's payload limit: `maxCommandBytes`, and at least 256 KiB (one place, for the broker and its input budget). */
function embeddedPayloadBytes(config: MqttConfig): number {
  return Math.max(config.maxCommandBytes, 256 * 1024);
}

/** Builds the `mqtt` adapter definition. */
export function createMqttDefinition(): AdapterDefinition<typeof mqttConfig> {
  return defineAdapter({
    type: 'mqtt',
    description: 'MQTT 3.1.1 and 5: retained state, Home Assistant discovery, command replies on response topics; an embedded broker when no url is given',
    config: mqttConfig,
    // The embedded broker's clients (issue 13.7): each may hold one packet of up to its limit
    // unfinished. With a url the broker is someone else's and there is no listener here.
    inputBudgetBytes: (config) => (config.url === undefined ? config.embedded.maxConnections * packetLimit({ maxPayloadBytes: embeddedPayloadBytes(config), maxPacketBytes: config.embedded.maxPacketBytes }) : 0),
    create: (config, ctx) => new MqttHost(config, ctx),
  });
}

/** One MQTT host: the client, the embedded broker when there is no `url`, and the topic layout. */
class MqttHost implements MqttAdapter {
  private readonly topics: Topics;
  private readonly embedded: boolean;
  private readonly protocolVersion: 4 | 5;
  private readonly clientId: string;
  private readonly discovery: DiscoveryContext;
  private readonly statusTopic: string;
  private readonly syncTopic: string;
  private broker: EmbeddedBroker | undefined;
  private client: MqttClient | undefined;
  private url: string | undefined;
  private ready = false;
  /** Called once the first connection is set up (start() waits for it). */
  private onReady: (() => void) | undefined;
  private firstConnect = true;
  private startedAt = 0;
  private pending = 0;
  /** Descriptions and availability as last handed over (the snapshot fills them at connect). */
  private readonly descriptions = new Map<string, DeviceInfoDescription>();
  private readonly availability = new Map<string, Availability>();
  /** Discovery topics published per device, so a channel or device that goes has its topics cleared. */
  private readonly discoveryTopics = new Map<string, Set<string>>();
  /** While the retained discovery topics are read back at first connect: topic → device. */
  private scan: { nonce: string; found: Map<string, string>; done: () => void } | undefined;
  /** Commands held until their device has started (a persistent session delivers them at once). */
  private readonly held = new Set<() => void>();
  private readonly warnedChannels = new Set<string>();
  private readonly counters;

  constructor(
    private readonly config: MqttConfig,
    private readonly ctx: HostContext,
  ) {
    this.topics = new Topics(config.baseTopic);
    this.embedded = config.url === undefined;
    this.protocolVersion = config.protocolVersion ?? (this.embedded ? 4 : 5);
    this.clientId = config.clientId ?? `patchbay-${sanitizeId(ctx.gatewayName)}-${sanitizeId(ctx.id)}`;
    this.statusTopic = `${config.discovery.prefix}/status`;
    this.syncTopic = `${config.baseTopic}/bridge/sync`;
    this.discovery = {
      prefix: config.discovery.prefix,
      nodeId: nodeIdFor(ctx.gatewayName, ctx.id),
      gatewayName: ctx.gatewayName,
      topics: this.topics,
      booleans: config.booleanPayloads,
      version,
    };
    this.counters = {
      commands: ctx.counter('patchbay_mqtt_commands_total', 'Commands received on /set topics'),
      badCommands: ctx.counter('patchbay_mqtt_bad_commands_total', 'Commands refused before reaching the core (size, UTF-8, response topic)'),
      connects: ctx.counter('patchbay_mqtt_connects_total', 'Connections to the broker'),
    };
  }

  get connected(): boolean {
    return this.ready;
  }

  brokerUrl(): string | undefined {
    return this.url === undefined ? undefined : redactUrl(this.url);
  }

  async start(): Promise<void> {
    for (const device of this.ctx.devices()) {
      const problem = deviceIdProblem(device.id);
      if (problem !== undefined) {
        throw new PatchbayError(ErrorCodes.CONFIG_INVALID, `mqtt: device id ${JSON.stringify(device.id)} cannot be a topic level: it ${problem} (${ErrorCodes.CONFIG_INVALID})`, { context: { device: device.id } });
      }
    }
    this.startedAt = Date.now();
    this.firstConnect = true;
    if (this.embedded) {
      const broker = new EmbeddedBroker({ ...this.config.embedded, maxPayloadBytes: embeddedPayloadBytes(this.config), logger: this.ctx.logger });
      await broker.start();
      this.broker = broker;
      this.url = broker.url;
    } else {
      this.url = this.config.url as string;
    }
    const client = openClient({
      url: this.url,
      clientId: this.clientId,
      protocolVersion: this.protocolVersion,
      ...brokerSettings(this.config),
      will: { topic: this.topics.bridgeState, payload: 'offline' },
    });
    this.client = client;
    this.ctx.connection({ connected: false, detail: `connecting to broker ${this.brokerUrl()}` });
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
    wireClient(client, { onConnect: () => void this.onConnect(client), onError: (reason) => this.ctx.logger.warn({ broker: this.brokerUrl() }, `mqtt: ${reason}`) });
    client.on('close', () => {
      if (this.ready) {
        this.ready = false;
        this.ctx.status('unknown', `broker ${this.brokerUrl()} unreachable; reconnecting every ${this.config.reconnectMs} ms`);
        this.ctx.connection({ connected: false, detail: `broker ${this.brokerUrl()} unreachable` });
      }
    });
    // Wait for the first connection or the first failure, whichever comes first: a broker
    // that is down at start is not a failed start (the outbox holds the state meanwhile).
    const first = untilFirstConnect(client, this.ctx.signal);
    this.onReady = first.ready;
    await first.settled;
    this.onReady = undefined;
    if (!this.ready) this.ctx.logger.warn({ broker: this.brokerUrl() }, `mqtt: broker ${this.brokerUrl()} not reachable yet; retrying every ${this.config.reconnectMs} ms`);
  }

  async stop(): Promise<void> {
    for (const release of this.held) release();
    this.held.clear();
    const client = this.client;
    this.client = undefined;
    if (client) {
      if (this.ready) {
        // A clean stop sends no will: say offline ourselves.
        await this.publish(client, { topic: this.topics.bridgeState, payload: 'offline', retain: true }).catch(() => undefined);
      }
      this.ready = false;
      await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    }
    this.ready = false;
    const broker = this.broker;
    this.broker = undefined;
    await broker?.stop();
  }

  deliver(event: OutboundEvent): Promise<void> | void {
    const client = this.client;
    // Device status is noted even while away: a held command waits for it.
    if (event.kind === 'status') this.noteStatus(event.endpoint, event.status);
    if (!client || !this.ready) throw unreachable(`broker ${this.brokerUrl() ?? ''} not connected`);
    const publishing = this.publishEvent(client, event);
    return publishing.length === 0 ? undefined : publishing.length === 1 ? publishing[0] : Promise.all(publishing).then(() => undefined);
  }

  async deliverBatch(events: readonly OutboundEvent[]): Promise<void> {
    const client = this.client;
    for (const event of events) if (event.kind === 'status') this.noteStatus(event.endpoint, event.status);
    if (!client || !this.ready) throw unreachable(`broker ${this.brokerUrl() ?? ''} not connected`);
    // Published back to back (MQTT.js keeps the order), acknowledged together.
    const publishing: Promise<void>[] = [];
    for (const event of events) for (const p of this.publishEvent(client, event)) publishing.push(p);
    await Promise.all(publishing);
  }

  /** The publications one event makes (none for replies, which go out as they come back). */
  private publishEvent(client: MqttClient, event: OutboundEvent): Promise<void>[] {
    switch (event.kind) {
      case 'state': {
        if (!this.channelOk(event.device, event.channel)) {
          throw new PatchbayError(ErrorCodes.EVENT_REJECTED, `channel ${JSON.stringify(event.channel)} of ${event.device} cannot be a topic level`, { context: { device: event.device, channel: event.channel } });
        }
        const channel = this.descriptions.get(event.device)?.channels[event.channel];
        return [this.publish(client, { topic: this.topics.state(event.device, event.channel), payload: encodeState(event.value, this.config.booleanPayloads, channel), retain: true })];
      }
      case 'availability':
        this.availability.set(event.device, event.availability);
        return [this.publish(client, { topic: this.topics.availability(event.device), payload: event.availability, retain: true })];
      case 'description':
        this.descriptions.set(event.device, event.description);
        return this.config.discovery.enabled ? this.publishDiscovery(client, event.device, event.description) : [];
      case 'momentary':
        if (!this.channelOk(event.device, event.channel)) {
          throw new PatchbayError(ErrorCodes.EVENT_REJECTED, `channel ${JSON.stringify(event.channel)} of ${event.device} cannot be a topic level`, { context: { device: event.device } });
        }
        return [this.publish(client, { topic: this.topics.event(event.device, event.channel), payload: encodeEvent(event.value), retain: false })];
      case 'status':
      case 'reply':
        // A device's availability comes as its own event; replies go out as they come back.
        return [];
    }
  }

  private channelOk(device: string, channel: string): boolean {
    const problem = channelIdProblem(channel);
    if (problem === undefined) return true;
    const key = device + '\u0000' + channel;
    if (!this.warnedChannels.has(key)) {
      this.warnedChannels.add(key);
      this.ctx.logger.warn({ device, channel: quoteForLog(channel) }, `mqtt: channel ${quoteForLog(channel)} of ${device} ${problem}; it is not published`);
    }
    return false;
  }

  private publish(client: MqttClient, { topic, payload, retain, qos = 1, properties }: { topic: string; payload: string | Buffer; retain: boolean; qos?: 1 | 2; properties?: IPublishPacket['properties'] }): Promise<void> {
    return new Promise((resolve, reject) => {
      client.publish(topic, payload, { qos, retain, properties }, (error) => (error ? reject(unreachable(`publish to ${topic} failed: ${describeError(error)}`)) : resolve()));
    });
  }

  /** Every (re)connection: subscribe, say online, then publish discovery, availability and state again. */
  private async onConnect(client: MqttClient): Promise<void> {
    this.counters.connects.inc();
    try {
      const noLocal = this.protocolVersion === 5;
      const subscriptions: Record<string, { qos: 1; nl?: boolean }> = { [this.topics.commandFilter]: noLocal ? { qos: 1, nl: true } : { qos: 1 } };
      if (this.config.discovery.enabled) subscriptions[this.statusTopic] = { qos: 1 };
      await client.subscribeAsync(subscriptions);
      if (this.firstConnect && this.config.discovery.enabled) await this.scanRetainedDiscovery(client);
      this.firstConnect = false;
      await this.publish(client, { topic: this.topics.bridgeState, payload: 'online', retain: true });
      if (this.client !== client) return;
      this.ready = true;
      this.ctx.status('alive');
      this.ctx.connection({ connected: true, detail: `broker ${this.brokerUrl()}` });
      this.onReady?.();
      this.ctx.logger.info({ broker: this.brokerUrl(), protocolVersion: this.protocolVersion }, `mqtt: connected to ${this.brokerUrl()} (MQTT ${this.protocolVersion === 5 ? '5' : '3.1.1'})`);
      await this.republish(client);
    } catch (error) {
      // The connection went while setting up; the next connect does it all again.
      this.ctx.logger.debug(`mqtt: connection setup interrupted: ${describeError(error)}`);
    }
  }

  /**
   * Reads back the discovery configs this gateway left retained (its node id is in every
   * topic), then clears those of devices no longer configured. The broker sends retained
   * messages right after the subscription; a message of our own published after it comes back
   * behind them, which tells when they are all in.
   */
  private async scanRetainedDiscovery(client: MqttClient): Promise<void> {
    const filter = discoveryFilter(this.config.discovery.prefix, this.discovery.nodeId);
    const found = new Map<string, string>();
    const nonce = randomBytes(8).toString('hex');
    const back = new Promise<void>((resolve) => {
      this.scan = { nonce, found, done: resolve };
    });
    const timer = setTimeout(() => this.scan?.done(), 5000);
    try {
      await client.subscribeAsync({ [filter]: { qos: 1 }, [this.syncTopic]: { qos: 1 } });
      await this.publish(client, { topic: this.syncTopic, payload: nonce, retain: false });
      await back;
    } finally {
      clearTimeout(timer);
      this.scan = undefined;
    }
    await client.unsubscribeAsync([filter, this.syncTopic]);
    const configured = new Set(this.ctx.devices().map((d) => d.id));
    const clearing: Promise<void>[] = [];
    for (const [topic, device] of found) {
      if (configured.has(device)) {
        let topics = this.discoveryTopics.get(device);
        if (!topics) this.discoveryTopics.set(device, (topics = new Set()));
        topics.add(topic);
      } else {
        clearing.push(this.publish(client, { topic, payload: '', retain: true }));
      }
    }
    if (clearing.length > 0) this.ctx.logger.info({ topics: clearing.length }, `mqtt: cleared ${clearing.length} discovery topics of devices no longer configured`);
    await Promise.all(clearing);
  }

  /** Discovery for one device; topics it had before and no longer has are cleared. */
  private publishDiscovery(client: MqttClient, device: string, description: DeviceInfoDescription): Promise<void>[] {
    const messages: DiscoveryMessage[] = deviceDiscovery(device, description, this.discovery);
    const next = new Set(messages.map((m) => m.topic));
    const publishing = messages.map((m) => this.publish(client, { topic: m.topic, payload: JSON.stringify(m.payload), retain: true }));
    for (const topic of this.discoveryTopics.get(device) ?? []) if (!next.has(topic)) publishing.push(this.publish(client, { topic, payload: '', retain: true }));
    this.discoveryTopics.set(device, next);
    return publishing;
  }

  /** Discovery, availability and the state of every channel, from the core's snapshot. */
  private async republish(client: MqttClient): Promise<void> {
    const publishing: Promise<void>[] = [];
    if (this.config.discovery.enabled) {
      const bridge = bridgeDiscovery(this.discovery);
      publishing.push(this.publish(client, { topic: bridge.topic, payload: JSON.stringify(bridge.payload), retain: true }));
    }
    for (const entry of this.ctx.snapshot().devices) {
      if (deviceIdProblem(entry.device) !== undefined) continue;
      const description = entry.description ?? this.descriptions.get(entry.device);
      if (description) {
        this.descriptions.set(entry.device, description);
        if (this.config.discovery.enabled) publishing.push(...this.publishDiscovery(client, entry.device, description));
      }
      const availability = entry.availability;
      this.availability.set(entry.device, availability);
      publishing.push(this.publish(client, { topic: this.topics.availability(entry.device), payload: availability, retain: true }));
      for (const { channel, value } of entry.channels) {
        if (!this.channelOk(entry.device, channel)) continue;
        const info = description?.channels[channel];
        publishing.push(this.publish(client, { topic: this.topics.state(entry.device, channel), payload: encodeState(value, this.config.booleanPayloads, info), retain: true }));
      }
    }
    await Promise.all(publishing);
  }

  private noteStatus(endpoint: string, status: string): void {
    if (status === 'alive' && this.held.size > 0) for (const release of [...this.held]) release();
    void endpoint;
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const scan = this.scan;
    if (scan !== undefined) {
      if (topic === this.syncTopic) {
        if (payload.toString() === scan.nonce) scan.done();
        return;
      }
      if (topic.startsWith(this.config.discovery.prefix + '/') && topic.endsWith('/config')) {
        const device = this.deviceOfDiscovery(payload);
        if (device !== undefined) scan.found.set(topic, device);
        return;
      }
    }
    if (topic === this.statusTopic) {
      // The retained "online" that comes with the subscription is covered by the connect's own republish.
      if (!packet.retain && payload.toString() === 'online' && this.client && this.ready) {
        const client = this.client;
        this.ctx.logger.info('mqtt: Home Assistant is online; publishing discovery, availability and state again');
        void this.republish(client).catch((error: unknown) => this.ctx.logger.debug(`mqtt: republish interrupted: ${describeError(error)}`));
      }
      return;
    }
    const target = this.topics.parseCommand(topic);
    if (target === undefined) return;
    void this.onCommand(target, payload, packet);
  }

  /** The device a retained discovery config of ours belongs to (from its device identifiers), if any. */
  private deviceOfDiscovery(payload: Buffer): string | undefined {
    if (payload.length === 0 || payload.length > 64 * 1024) return undefined;
    try {
      const parsed = JSON.parse(payload.toString('utf8')) as { device?: { identifiers?: unknown } };
      const identifiers = parsed.device?.identifiers;
      const first = Array.isArray(identifiers) ? identifiers[0] : undefined;
      const prefix = this.discovery.nodeId + '_';
      return typeof first === 'string' && first.startsWith(prefix) ? first.slice(prefix.length) : undefined;
    } catch {
      return undefined;
    }
  }

  private async onCommand({ device, channel }: { device: string; channel: string }, payload: Buffer, packet: IPublishPacket): Promise<void> {
    this.counters.commands.inc();
    const responseTopic = packet.properties?.responseTopic;
    const correlationData = packet.properties?.correlationData;
    if (responseTopic !== undefined && this.topics.isForbiddenResponseTopic(responseTopic)) {
      // A reply there would be read back as a command or as the gateway's own state.
      this.counters.badCommands.inc();
      this.ctx.logger.warn(
        { device, channel: quoteForLog(channel), responseTopic: quoteForLog(responseTopic) },
        `mqtt: command for ${device}/${quoteForLog(channel)} refused (${ErrorCodes.COMMAND_INVALID}): its response topic ${quoteForLog(responseTopic)} lies under ${this.config.baseTopic}/ or holds a wildcard`,
      );
      return;
    }
    const answer = (reply: Pick<ReplyEvent, 'ok' | 'value' | 'error' | 'code'>) => this.reply({ device, channel, responseTopic, correlationData, reply });
    if (this.pending >= this.config.maxPendingCommands) {
      this.counters.badCommands.inc();
      this.ctx.logger.warn({ device, pending: this.pending }, `mqtt: ${this.pending} commands waiting for their device; refusing more (${ErrorCodes.OUTBOX_FULL})`);
      answer({ ok: false, code: ErrorCodes.OUTBOX_FULL, error: `${this.pending} commands are waiting already` });
      return;
    }
    this.pending++;
    try {
      await this.untilStarted(device);
      const description = this.descriptions.get(device);
      const info: ChannelInfo | undefined = description?.channels[channel];
      const isAction = info === undefined && description?.actions?.[channel] !== undefined;
      const decoded = decodeCommand(payload, { style: this.config.booleanPayloads, maxBytes: this.config.maxCommandBytes, channel: info });
      if (!decoded.ok) {
        this.counters.badCommands.inc();
        this.ctx.logger.warn({ device, channel: quoteForLog(channel), code: decoded.code }, `mqtt: command for ${device}/${quoteForLog(channel)} refused (${decoded.code}): ${decoded.error}`);
        answer({ ok: false, code: decoded.code, error: decoded.error });
        return;
      }
      const input: CommandInput = isAction ? { device, action: channel } : { device, channel, value: decoded.value };
      const reply = await this.ctx.submit(input);
      if (!reply.ok && reply.code !== undefined && REFUSALS.has(reply.code)) {
        this.ctx.logger.warn(
          { device, channel: quoteForLog(channel), code: reply.code, payload: quoteForLog(payload.toString('utf8')) },
          `mqtt: command for ${device}/${quoteForLog(channel)} refused (${reply.code}): ${reply.error ?? ''}`,
        );
      }
      answer(reply);
    } finally {
      this.pending--;
    }
  }

  /** Resolves at once unless the device has not started yet and the adapter started only now. */
  private untilStarted(device: string): Promise<void> {
    const isWaiting = () => {
      const info = this.ctx.devices().find((d) => d.id === device);
      return info !== undefined && (info.status === 'stopped' || info.status === 'starting') && Date.now() - this.startedAt < START_GRACE_MS;
    };
    if (!isWaiting()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(release, START_GRACE_MS - (Date.now() - this.startedAt));
      const check = () => {
        if (!isWaiting()) release();
      };
      function release(): void {
        clearTimeout(timer);
        held.delete(check);
        resolve();
      }
      const held = this.held;
      held.add(check);
      this.ctx.signal.addEventListener('abort', release, { once: true });
    });
  }

  /** Sends a reply on the response topic (MQTT 5) and on `/set/result` when configured. */
  private reply(target: { device: string; channel: string; responseTopic?: string; correlationData?: Buffer; reply: Pick<ReplyEvent, 'ok' | 'value' | 'error' | 'code'> }): void {
    const client = this.client;
    if (!client) return;
    const body = encodeReply(target.reply);
    // MQTT.js keeps QoS 1 publications made while disconnected and sends them on reconnect.
    const sent = (error?: unknown) => error && this.ctx.logger.debug(`mqtt: reply not sent: ${describeError(error)}`);
    if (target.responseTopic !== undefined) {
      const properties: IPublishPacket['properties'] = target.correlationData !== undefined ? { correlationData: target.correlationData } : {};
      client.publish(target.responseTopic, body, { qos: 1, retain: false, properties }, sent);
    }
    if (this.config.resultTopic) client.publish(this.topics.result(target.device, target.channel), body, { qos: 1, retain: false }, sent);
  }
}

/** `createMqttDefinition()`'s result type, for the package entry. */
export type MqttDefinition = AdapterDefinition<typeof mqttConfig>;
export type { HostContext };
