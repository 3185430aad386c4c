/**
 * The cluster link: one host of this gateway's core, on one MQTT 5 client.
 *
 * - As a host, it is routed this gateway's own devices and publishes them under
 *   `<cluster>/<me>/…`; commands other gateways send it run through this core's `submit`,
 *   with its checks and timeouts, and their reply goes back on the asker's response topic.
 * - It subscribes to every other gateway and shows their devices to this core as remote
 *   devices (`Gateway.addRemoteDevice`); each one's stand-in driver forwards commands to the
 *   owner as MQTT 5 requests (correlation data = the command id).
 *
 * No protocol of our own beyond topic names and JSON bodies: retained messages resync, the
 * last will says a gateway died, persistent sessions carry what was published while a
 * gateway was away, and message expiry drops commands nobody waits for any more.
 */
import { randomBytes } from 'node:crypto';
import { brokerSettings, openClient, redactUrl, topicLevelProblem, untilFirstConnect, wireClient } from '@patchbay/adapter-mqtt/internal';
import {
  describeError,
  ErrorCodes,
  isPatchbayError,
  PatchbayError,
  quoteForLog,
  type Adapter,
  type Availability,
  type ClusterGatewayHealth,
  type ClusterHealth,
  type CommandEvent,
  type DeviceDescription,
  type DriverContext,
  type HostContext,
  type JsonValue,
  type OutboundEvent,
  type RemoteDeviceSpec,
  type ReplyInit,
} from '@patchbay/core';
import type { IPublishPacket, MqttClient } from 'mqtt';
import type { ClusterConfig } from './config.js';
import { AnnouncementSchema, AvailabilityPayloadSchema, decode, encodeAnnouncement, encodeAvailability, encodeEvent, encodeReply, encodeState, EventPayloadSchema, ReplyPayloadSchema, RequestSchema, StatePayloadSchema } from './protocol/payload.js';
import { ClusterTopics } from './protocol/topics.js';
import { standInDefinition } from './standIn.js';

/** What the link needs of the gateway it runs in: the core's remote-device seam. */
export interface RemoteRegistry {
  addRemoteDevice(spec: RemoteDeviceSpec): Promise<void>;
  removeRemoteDevice(id: string): Promise<boolean>;
}

/** What the app hands the link besides its config. */
export interface ClusterLinkOptions {
  /** The running gateway (read when the link starts: the gateway is made after its hosts' definitions). */
  registry: () => RemoteRegistry;
  /** How long a forwarded command may take, ms: the gateway's `commandTimeoutMs`. */
  commandTimeoutMs: number;
}

// The cluster section's types live in core, so a host (the ws status page) can show it too (issue 19.7).
export type { ClusterGatewayHealth, ClusterHealth } from '@patchbay/core';

interface ChannelValue {
  value: JsonValue;
  time: number;
  /** Counts the values taken for this device, so each is handed to the core once. */
  seq: number;
}

/** One device as one gateway announces it. */
interface Announced {
  gateway: string;
  device: string;
  /** From its retained description: when its owner first announced it. */
  since: number | undefined;
  description: DeviceDescription | null | undefined;
  states: Map<string, ChannelValue>;
  availability: { availability: Availability; reason: string | undefined } | undefined;
  /** The newest momentary event id taken live, so a QoS 1 redelivery is not a second event. */
  lastEvent: string | undefined;
  /** Momentary events taken live while the device could not be shown online yet, in order. */
  held: { channel: string; value: JsonValue | undefined }[];
  seq: number;
}

interface Peer {
  id: string;
  status: 'online' | 'offline' | 'unknown';
  /** The boot id of its current run: a new one means it restarted. */
  boot: string | undefined;
  devices: Map<string, Announced>;
}

/** A remote device shown to this core. */
interface Active {
  gateway: string;
  ctx: DriverContext | undefined;
  /** What the stand-in last told the core, so nothing is said twice. */
  shown: string | undefined;
  emitted: Map<string, number>;
}

interface Pending {
  gateway: string;
  finish: (reply: ReplyInit) => void;
}

/** Requests remembered per asker to drop QoS 1 redeliveries; a bounded window, oldest first. */
const SEEN_REQUESTS = 10_000;
/** How long a clean stop waits for the broker to ack what is in flight. */
const STOP_GRACE_MS = 2000;
/** Momentary events held per device while its owner is not online yet. */
const MAX_HELD_EVENTS = 1000;
/** Time kept back from a forwarded command's deadline for its reply to reach the asker. */
const REPLY_TRANSIT_MS = 200;
/** How long the retained messages may take to come in after a subscription. */
const SYNC_TIMEOUT_MS = 5000;

function unreachable(message: string): PatchbayError {
  return new PatchbayError(ErrorCodes.HOST_UNREACHABLE, message);
}

/** The cluster link (an {@link Adapter} of the core), with its health. */
export class ClusterLink implements Adapter {
  readonly topics: ClusterTopics;
  private readonly boot = randomBytes(8).toString('hex');
  private client: MqttClient | undefined;
  private ready = false;
  private onReady: (() => void) | undefined;
  private readonly peers = new Map<string, Peer>();
  private readonly active = new Map<string, Active>();
  /** `<gateway>\0<device>` → why it is refused. */
  private readonly refused = new Map<string, { device: string; gateway: string; heldBy: string; reason: string }>();
  /** This gateway's own devices: when each was first announced, and whether it is shared (its claim is the oldest). */
  private readonly local = new Map<string, { since: number; shared: boolean; announced: boolean }>();
  /** Our own announcements as the broker kept them from an earlier run (read at connect). */
  private readonly previous = new Map<string, number>();
  private readonly pending = new Map<string, Pending>();
  private readonly seen = new Set<string>();
  private readonly warned = new Set<string>();
  private sync: { nonce: string; done: () => void } | undefined;
  private firstConnect = true;
  private registryOps: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly config: ClusterConfig & { gateway: string },
    private readonly ctx: HostContext,
    private readonly options: ClusterLinkOptions,
  ) {
    this.topics = new ClusterTopics(config.name, config.gateway);
  }

  get connected(): boolean {
    return this.ready;
  }

  async start(): Promise<void> {
    this.firstConnect = true;
    const client = openClient({
      url: this.config.url,
      clientId: `patchbay-cluster-${this.config.name}-${this.config.gateway}`,
      protocolVersion: 5,
      ...brokerSettings(this.config),
      will: { topic: this.topics.status(), payload: 'offline' },
    });
    this.client = client;
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
    wireClient(client, { onConnect: () => void this.onConnect(client), onError: (reason) => this.ctx.logger.warn({ broker: this.broker }, `cluster: ${reason}`) });
    client.on('close', () => {
      if (!this.ready) return;
      this.ready = false;
      this.ctx.status('unknown', `broker ${this.broker} unreachable; reconnecting every ${this.config.reconnectMs} ms`);
      // What the others said may have changed meanwhile: their retained status tells again on reconnect.
      for (const peer of this.peers.values()) peer.status = 'unknown';
      this.report();
      for (const device of this.active.keys()) this.show(device);
    });
    const first = untilFirstConnect(client, this.ctx.signal);
    this.onReady = first.ready;
    await first.settled;
    this.onReady = undefined;
    if (!this.ready) this.ctx.logger.warn({ broker: this.broker }, `cluster: broker ${this.broker} not reachable yet; retrying every ${this.config.reconnectMs} ms`);
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.finish({ ok: false, code: ErrorCodes.GATEWAY_STOPPING, error: 'the gateway is stopping' });
    }
    if (client) {
      const connected = this.ready;
      if (connected) await this.publish(client, { topic: this.topics.status(), payload: 'offline', retain: true }).catch(() => undefined);
      this.ready = false;
      // A graceful end waits for every in-flight publication's ack: without a broker that is
      // forever, and with one it is bounded here too.
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => client.end(true, {}, () => resolve()), connected ? STOP_GRACE_MS : 0);
        client.end(!connected, {}, () => {
          clearTimeout(force);
          resolve();
        });
      });
    }
    this.ready = false;
    await this.registryOps;
    // Their stand-ins are wired to this link: a link started again (a reload, a restart) adds
    // them anew from what the broker kept.
    const registry = this.options.registry();
    for (const device of [...this.active.keys()]) {
      this.active.delete(device);
      await registry.removeRemoteDevice(device).catch((error: unknown) => this.ctx.logger.warn({ err: error, device }, `cluster: ${describeError(error)}`));
    }
  }

  private get broker(): string {
    return redactUrl(this.config.url);
  }

  // ---- publishing this gateway's devices (19.2) ----

  deliver(event: OutboundEvent): Promise<void> | void {
    const client = this.client;
    if (!client || !this.ready) throw unreachable(`broker ${this.broker} not connected`);
    const publishing = this.publishEvent(client, event);
    return publishing === undefined ? undefined : publishing;
  }

  async deliverBatch(events: readonly OutboundEvent[]): Promise<void> {
    const client = this.client;
    if (!client || !this.ready) throw unreachable(`broker ${this.broker} not connected`);
    const publishing: Promise<void>[] = [];
    for (const event of events) {
      const p = this.publishEvent(client, event);
      if (p) publishing.push(p);
    }
    await Promise.all(publishing);
  }

  private publishEvent(client: MqttClient, event: OutboundEvent): Promise<void> | undefined {
    if (event.kind === 'status' || event.kind === 'reply') return undefined;
    const device = event.device;
    // Warned once; the device stays this gateway's own (throwing would log every event).
    if (!this.levelOk(device, 'device', device)) return undefined;
    const own = this.ownClaim(device);
    if (event.kind === 'description') {
      own.announced = true;
      const announce = this.publish(client, { topic: this.topics.description(device), payload: encodeAnnouncement(event.description, own.since), retain: true });
      this.schedule(device);
      return announce;
    }
    if (!own.announced) {
      // A device that never described itself (or came with a reload) is announced with its first event.
      own.announced = true;
      void this.publish(client, { topic: this.topics.description(device), payload: encodeAnnouncement(this.ctx.description(device) ?? null, own.since), retain: true }).catch(() => (own.announced = false));
    }
    if (!own.shared) return undefined;
    switch (event.kind) {
      case 'state':
        if (!this.levelOk(device, 'channel', event.channel)) return undefined;
        return this.publish(client, { topic: this.topics.state(device, event.channel), payload: encodeState(event.value, event.time), retain: true });
      case 'availability':
        return this.publish(client, { topic: this.topics.availability(device), payload: encodeAvailability(event.availability, event.reason), retain: true });
      case 'momentary':
        if (!this.levelOk(device, 'channel', event.channel)) return undefined;
        return this.publish(client, { topic: this.topics.event(device, event.channel), payload: encodeEvent(event.id, event.value, event.time), retain: true });
    }
  }

  /** This gateway's claim to a device id: since when, and whether it is the oldest. */
  private ownClaim(device: string): { since: number; shared: boolean; announced: boolean } {
    let claim = this.local.get(device);
    if (claim === undefined) {
      claim = { since: this.previous.get(device) ?? Date.now(), shared: true, announced: false };
      this.local.set(device, claim);
      // Another gateway may have claimed it first: decided with everything else it announced.
      this.schedule(device);
    }
    return claim;
  }

  private levelOk(device: string, what: 'device' | 'channel', id: string): boolean {
    const problem = topicLevelProblem(id);
    if (problem === undefined) return true;
    const key = `${device}\u0000${id}`;
    if (!this.warned.has(key)) {
      this.warned.add(key);
      this.ctx.logger.warn({ device: quoteForLog(device) }, `cluster: ${what} id ${quoteForLog(id)} of ${quoteForLog(device)} ${problem}; not shared with the cluster`);
    }
    return false;
  }

  private publish(client: MqttClient, { topic, payload, retain, properties }: { topic: string; payload: string | Buffer; retain: boolean; properties?: IPublishPacket['properties'] }): Promise<void> {
    return new Promise((resolve, reject) => {
      client.publish(topic, payload, { qos: 1, retain, properties }, (error) => (error ? reject(unreachable(`publish to ${topic} failed: ${describeError(error)}`)) : resolve()));
    });
  }

  /** Every (re)connection: subscribe, read what the broker kept, say online, then publish our devices again. */
  private async onConnect(client: MqttClient): Promise<void> {
    try {
      const nonce = randomBytes(8).toString('hex');
      const back = new Promise<void>((resolve) => {
        this.sync = { nonce, done: resolve };
      });
      const timer = setTimeout(() => this.sync?.done(), SYNC_TIMEOUT_MS);
      try {
        const subscriptions: Record<string, { qos: 1 }> = {};
        for (const filter of this.topics.subscriptions()) subscriptions[filter] = { qos: 1 };
        await client.subscribeAsync(subscriptions);
        // Retained messages come right after the subscription; this one comes back behind them.
        await this.publish(client, { topic: this.topics.sync, payload: nonce, retain: false });
        await back;
      } finally {
        clearTimeout(timer);
        this.sync = undefined;
      }
      if (this.firstConnect) await this.clearGone(client);
      this.firstConnect = false;
      await this.publish(client, { topic: this.topics.status(), payload: 'online', retain: true, properties: { userProperties: { boot: this.boot } } });
      if (this.client !== client) return;
      this.ready = true;
      this.ctx.status('alive');
      this.onReady?.();
      this.ctx.logger.info({ broker: this.broker, cluster: this.config.name, gateway: this.config.gateway }, `cluster: connected to ${this.broker} as ${this.config.gateway} of ${this.config.name}`);
      this.report();
      for (const device of this.active.keys()) this.show(device);
      await this.republish(client);
    } catch (error) {
      this.ctx.logger.debug(`cluster: connection setup interrupted: ${describeError(error)}`);
    }
  }

  /** Our own announcements of devices no longer configured here are cleared, so the others drop them. */
  private async clearGone(client: MqttClient): Promise<void> {
    const configured = new Set(this.ctx.devices().map((d) => d.id));
    const gone = [...this.previous.keys()].filter((d) => !configured.has(d));
    for (const device of gone) this.previous.delete(device);
    if (gone.length > 0) this.ctx.logger.info({ devices: gone }, `cluster: ${gone.length} devices no longer configured here are withdrawn from the cluster`);
    await Promise.all(gone.map((device) => this.publish(client, { topic: this.topics.description(device), payload: '', retain: true })));
  }

  /** Descriptions, availability and every channel's state, from the core's snapshot, with their own times. */
  private async republish(client: MqttClient): Promise<void> {
    const publishing: Promise<void>[] = [];
    for (const entry of this.ctx.snapshot().devices) {
      const device = entry.device;
      if (!this.levelOk(device, 'device', device)) continue;
      const own = this.ownClaim(device);
      own.announced = true;
      publishing.push(this.publish(client, { topic: this.topics.description(device), payload: encodeAnnouncement(entry.description ?? null, own.since), retain: true }));
      if (!own.shared) continue;
      publishing.push(this.publish(client, { topic: this.topics.availability(device), payload: encodeAvailability(entry.availability, entry.availabilityReason), retain: true }));
      for (const { channel, value, time } of entry.channels) {
        if (this.levelOk(device, 'channel', channel)) publishing.push(this.publish(client, { topic: this.topics.state(device, channel), payload: encodeState(value, time), retain: true }));
      }
    }
    await Promise.all(publishing);
  }

  // ---- what the others publish (19.3, 19.5) ----

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const parsed = this.topics.parse(topic);
    if (parsed === undefined) return;
    const me = this.config.gateway;
    switch (parsed.kind) {
      case 'sync':
        if (this.sync !== undefined && payload.toString() === this.sync.nonce) this.sync.done();
        return;
      case 'command':
        if (parsed.gateway === me) void this.onRequest(payload, packet);
        return;
      case 'reply':
        if (parsed.gateway === me) this.onReply(payload, packet);
        return;
      case 'status':
        if (parsed.gateway !== me) this.onStatus(parsed.gateway, payload, packet);
        return;
    }
    if (parsed.gateway === me) {
      // Our own announcement from an earlier run: keep its claim's age.
      if (parsed.kind === 'description' && payload.length > 0) {
        const announced = decode(payload, AnnouncementSchema, this.config.maxMessageBytes);
        if (announced.ok && !this.local.has(parsed.device)) this.previous.set(parsed.device, announced.value.since);
      }
      return;
    }
    const { gateway, device } = parsed;
    if (this.levelProblemOf(gateway, device)) return;
    switch (parsed.kind) {
      case 'description':
        this.onDescription(gateway, device, payload);
        return;
      case 'availability': {
        const body = this.decodeFrom(gateway, topic, decode(payload, AvailabilityPayloadSchema, this.config.maxMessageBytes));
        if (body === undefined) return;
        this.record(gateway, device).availability = { availability: body.availability, reason: body.reason };
        this.show(device);
        return;
      }
      case 'state': {
        const body = this.decodeFrom(gateway, topic, decode(payload, StatePayloadSchema, this.config.maxMessageBytes));
        if (body === undefined) return;
        const record = this.record(gateway, device);
        const last = record.states.get(parsed.channel);
        // An older value, or the same one again (a resubscription, the owner republishing on
        // reconnect): not news. Two values may share a millisecond.
        if (last !== undefined && (body.time < last.time || (body.time === last.time && JSON.stringify(body.value) === JSON.stringify(last.value)))) return;
        record.states.set(parsed.channel, { value: body.value, time: body.time, seq: ++record.seq });
        this.emitState(device, gateway, parsed.channel);
        return;
      }
      case 'event': {
        // A retained copy is the last event again, sent with a (re)subscription: history, not news.
        if (packet.retain) return;
        const body = this.decodeFrom(gateway, topic, decode(payload, EventPayloadSchema, this.config.maxMessageBytes));
        if (body === undefined) return;
        const record = this.record(gateway, device);
        if (record.lastEvent !== undefined && body.id <= record.lastEvent) return;
        record.lastEvent = body.id;
        // Held only for the gateway that holds the id here (or may, once its claim is decided).
        const holder = this.active.get(device)?.gateway;
        if ((holder !== undefined && holder !== gateway) || this.local.has(device)) return;
        // The owner's client sends what it held while away before it says online again: held
        // here until it does (or its device is shown), so the event is neither lost nor early.
        if (record.held.length >= MAX_HELD_EVENTS) {
          record.held.shift();
          this.warnOnce(`held\u0000${gateway}\u0000${device}`, `cluster: more than ${MAX_HELD_EVENTS} momentary events of ${device} wait for gateway ${gateway} to be online; the oldest are dropped (logged once)`);
        }
        record.held.push({ channel: parsed.channel, value: body.value });
        this.flushEvents(device);
        return;
      }
    }
  }

  private levelProblemOf(gateway: string, device: string): boolean {
    return topicLevelProblem(gateway) !== undefined || topicLevelProblem(device) !== undefined;
  }

  /** A decoded payload's value, or undefined when it was refused (logged once per topic); `gateway` and `topic` say where it came from. */
  private decodeFrom<T>(gateway: string, topic: string, result: ReturnType<typeof decode<T>>): T | undefined {
    if (result.ok) return result.value;
    const key = `bad\u0000${topic}`;
    if (!this.warned.has(key)) {
      this.warned.add(key);
      this.ctx.logger.warn({ gateway, topic: quoteForLog(topic) }, `cluster: a message from gateway ${gateway} on ${quoteForLog(topic)} is refused (${ErrorCodes.EVENT_REJECTED}): ${quoteForLog(result.error, 200)} (logged once per topic)`);
    }
    return undefined;
  }

  private peer(gateway: string): Peer {
    let peer = this.peers.get(gateway);
    if (peer === undefined) {
      peer = { id: gateway, status: 'unknown', boot: undefined, devices: new Map() };
      this.peers.set(gateway, peer);
    }
    return peer;
  }

  private record(gateway: string, device: string): Announced {
    const peer = this.peer(gateway);
    let record = peer.devices.get(device);
    if (record === undefined) {
      record = { gateway, device, since: undefined, description: undefined, states: new Map(), availability: undefined, lastEvent: undefined, held: [], seq: 0 };
      peer.devices.set(device, record);
    }
    return record;
  }

  private onStatus(gateway: string, payload: Buffer, packet: IPublishPacket): void {
    const text = payload.toString('utf8');
    if (text !== 'online' && text !== 'offline') return;
    const peer = this.peer(gateway);
    const before = peer.status;
    peer.status = text;
    if (text === 'online') {
      const boot = packet.properties?.userProperties?.boot;
      const next = typeof boot === 'string' ? boot : undefined;
      if (peer.boot !== undefined && next !== undefined && next !== peer.boot) {
        // A new run does not answer what the old one was asked (it refuses those itself).
        this.failPending(gateway, { ok: false, code: ErrorCodes.GATEWAY_RESTARTED, error: `gateway ${gateway} restarted before it answered; the command may or may not have been carried out` });
      }
      peer.boot = next ?? peer.boot;
    }
    if (before !== peer.status) {
      const line = `cluster: gateway ${gateway} is ${peer.status}${peer.status === 'offline' ? ' (its devices are offline)' : ''}`;
      if (peer.status === 'offline') this.ctx.logger.warn({ gateway }, line);
      else this.ctx.logger.info({ gateway }, line);
    }
    this.report();
    for (const device of peer.devices.keys()) this.show(device);
  }

  private onDescription(gateway: string, device: string, payload: Buffer): void {
    const peer = this.peer(gateway);
    if (payload.length === 0) {
      // The owner withdrew the device.
      if (peer.devices.delete(device)) this.schedule(device);
      return;
    }
    const body = this.decodeFrom(gateway, this.topics.description(device, gateway), decode(payload, AnnouncementSchema, this.config.maxMessageBytes));
    if (body === undefined) return;
    const record = this.record(gateway, device);
    const changed = JSON.stringify(record.description) !== JSON.stringify(body.description);
    record.since = body.since;
    record.description = body.description;
    const active = this.active.get(device);
    if (changed && active?.gateway === gateway && active.ctx && body.description !== null) active.ctx.describe(body.description);
    this.schedule(device);
  }

  /** Decide who holds `device` once every earlier decision is done: one at a time, in order. */
  private schedule(device: string): void {
    this.registryOps = this.registryOps.then(() => this.reconcile(device)).catch((error: unknown) => this.ctx.logger.error({ err: error, device }, `cluster: ${describeError(error)}`));
  }

  /** The oldest claim to `device` holds it; every other is refused (logged once, in `/healthz`). */
  private async reconcile(device: string): Promise<void> {
    const claims: { gateway: string; since: number }[] = [];
    const own = this.local.get(device);
    if (own !== undefined) claims.push({ gateway: this.config.gateway, since: own.since });
    for (const peer of this.peers.values()) {
      const record = peer.devices.get(device);
      if (record?.since !== undefined && record.description !== undefined) claims.push({ gateway: peer.id, since: record.since });
    }
    claims.sort((a, b) => a.since - b.since || (a.gateway < b.gateway ? -1 : a.gateway > b.gateway ? 1 : 0));
    const winner = claims[0];
    for (const key of [...this.refused.keys()]) if (this.refused.get(key)?.device === device) this.refused.delete(key);
    const me = this.config.gateway;
    for (const loser of claims.slice(1)) {
      const reason = loser.gateway === me ? `this gateway's device "${device}" is not shared with the cluster: gateway "${(winner as { gateway: string }).gateway}" announced that id first` : undefined;
      this.refuse({ device, gateway: loser.gateway, heldBy: (winner as { gateway: string }).gateway, reason });
    }
    if (own !== undefined) {
      const shared = winner?.gateway === me;
      if (own.shared !== shared) {
        own.shared = shared;
        if (shared && this.client && this.ready) await this.republish(this.client).catch(() => undefined);
      }
    }
    const current = this.active.get(device);
    // A device of this gateway is always its own here, whoever holds the id in the cluster.
    const holder = own === undefined && winner !== undefined && winner.gateway !== me ? winner.gateway : undefined;
    if (current !== undefined && current.gateway === holder) return;
    if (current !== undefined) {
      this.active.delete(device);
      await this.options.registry().removeRemoteDevice(device);
    }
    if (holder === undefined) return;
    const active: Active = { gateway: holder, ctx: undefined, shown: undefined, emitted: new Map() };
    this.active.set(device, active);
    try {
      await this.options.registry().addRemoteDevice({ id: device, origin: holder, via: this.ctx.id, definition: standInDefinition({ attach: (ctx) => this.attach(device, active, ctx), detach: () => (active.ctx = undefined), send: (command) => this.forward(device, command) }) });
    } catch (error) {
      this.active.delete(device);
      if (!isPatchbayError(error, ErrorCodes.DEVICE_ID_TAKEN)) throw error;
      // A device of this gateway that is not shared with the cluster (routes), or a host id.
      this.refuse({ device, gateway: holder, heldBy: this.config.gateway, reason: error.message });
    }
    this.report();
  }

  private refuse({ device, gateway, heldBy, reason }: { device: string; gateway: string; heldBy: string; reason?: string | undefined }): void {
    const key = `${gateway}\u0000${device}`;
    if (this.refused.has(key)) return;
    const why = reason ?? `device id "${device}" announced by gateway "${gateway}" is already held by gateway "${heldBy}" (announced first); ignored here`;
    this.refused.set(key, { device, gateway, heldBy, reason: why });
    const logged = `refused\u0000${key}\u0000${heldBy}`;
    if (!this.warned.has(logged)) {
      this.warned.add(logged);
      this.ctx.logger.warn({ device, gateway, heldBy, code: ErrorCodes.DEVICE_ID_TAKEN }, `cluster: ${why} (${ErrorCodes.DEVICE_ID_TAKEN})`);
    }
  }

  /** A stand-in driver started: tell the core what is known of its device. */
  private attach(device: string, active: Active, ctx: DriverContext): void {
    if (this.active.get(device) !== active) return;
    active.ctx = ctx;
    active.shown = undefined;
    active.emitted.clear();
    const record = this.peers.get(active.gateway)?.devices.get(device);
    if (record?.description) ctx.describe(record.description);
    this.show(device);
  }

  private isOnline(device: string): boolean {
    return this.effective(device).availability === 'online';
  }

  /** A remote device is offline while our link is down, while its owner is not online, or when its owner says so. */
  private effective(device: string): { availability: 'online' | 'offline'; reason?: string } {
    const active = this.active.get(device);
    if (active === undefined) return { availability: 'offline', reason: 'not in the cluster' };
    if (!this.ready) return { availability: 'offline', reason: `the cluster link to ${this.broker} is down` };
    const peer = this.peers.get(active.gateway);
    if (peer?.status !== 'online') return { availability: 'offline', reason: `gateway ${active.gateway} is ${peer?.status === 'offline' ? 'offline' : 'not heard from yet'}` };
    const said = peer.devices.get(device)?.availability;
    if (said?.availability === 'offline') return { availability: 'offline', reason: `on gateway ${active.gateway}: ${said.reason ?? 'offline'}` };
    return { availability: 'online' };
  }

  /** Hands the core the device's availability when it changed, then any state it missed while offline. */
  private show(device: string): void {
    const active = this.active.get(device);
    const ctx = active?.ctx;
    if (active === undefined || ctx === undefined) return;
    const now = this.effective(device);
    const key = `${now.availability}\u0000${now.reason ?? ''}`;
    if (active.shown !== key) {
      active.shown = key;
      ctx.availability(now.availability, now.reason);
    }
    if (now.availability !== 'online') return;
    const record = this.peers.get(active.gateway)?.devices.get(device);
    if (record) for (const channel of record.states.keys()) this.emitState(device, active.gateway, channel);
    this.flushEvents(device);
  }

  /** Hands the core the momentary events held for a device, once it is shown online. */
  private flushEvents(device: string): void {
    const active = this.active.get(device);
    if (active?.ctx === undefined || !this.isOnline(device)) return;
    const record = this.peers.get(active.gateway)?.devices.get(device);
    if (record === undefined) return;
    for (const event of record.held.splice(0)) active.ctx.momentary(event.channel, event.value);
  }

  private emitState(device: string, gateway: string, channel: string): void {
    const active = this.active.get(device);
    if (active?.gateway !== gateway || active.ctx === undefined || !this.isOnline(device)) return;
    const state = this.peers.get(gateway)?.devices.get(device)?.states.get(channel);
    if (state === undefined || (active.emitted.get(channel) ?? 0) >= state.seq) return;
    active.emitted.set(channel, state.seq);
    active.ctx.emit(channel, state.value);
  }

  // ---- commands (19.4) ----

  /** The stand-in's `send`: an MQTT 5 request to the owner; resolves with its reply, or a coded failure. */
  private forward(device: string, command: CommandEvent): Promise<ReplyInit> {
    const active = this.active.get(device);
    const client = this.client;
    const gateway = active?.gateway ?? '?';
    const peer = this.peers.get(gateway);
    if (active === undefined || client === undefined || peer?.status !== 'online') {
      return Promise.resolve({ ok: false, code: ErrorCodes.DEVICE_UNAVAILABLE, error: `device ${device} is on gateway ${gateway}, which is ${peer?.status === 'offline' ? 'offline' : 'not reachable'}` });
    }
    const timeoutMs = this.options.commandTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const body = JSON.stringify({ device, channel: command.channel, action: command.action, value: command.value, args: command.args });
    return new Promise<ReplyInit>((resolve) => {
      const timer = setTimeout(() => {
        const status = this.peers.get(gateway)?.status;
        finish({ ok: false, code: ErrorCodes.COMMAND_TIMEOUT, error: `gateway ${gateway} did not answer for ${device} within ${timeoutMs} ms${status === 'online' ? '' : ` (it is ${status})`}` });
      }, timeoutMs);
      const finish = (reply: ReplyInit): void => {
        if (this.pending.get(command.id)?.finish !== finish) return;
        this.pending.delete(command.id);
        clearTimeout(timer);
        resolve(reply);
      };
      this.pending.set(command.id, { gateway, finish });
      // The broker drops the request once nobody waits for it (message expiry), so a gateway
      // back from an outage never runs a command whose asker already had its timeout.
      const properties: IPublishPacket['properties'] = {
        responseTopic: this.topics.reply,
        correlationData: Buffer.from(command.id),
        messageExpiryInterval: Math.max(1, Math.floor(timeoutMs / 1000)),
        userProperties: { deadline: String(deadline), ...(peer.boot === undefined ? {} : { boot: peer.boot }) },
      };
      client.publish(this.topics.command(gateway), body, { qos: 1, retain: false, properties }, (error) => {
        if (error) finish({ ok: false, code: ErrorCodes.DEVICE_UNAVAILABLE, error: `the command for ${device} could not be sent to gateway ${gateway}: ${describeError(error)}` });
      });
    });
  }

  private failPending(gateway: string, reply: ReplyInit): void {
    for (const pending of [...this.pending.values()]) if (pending.gateway === gateway) pending.finish(reply);
  }

  private onReply(payload: Buffer, packet: IPublishPacket): void {
    const id = packet.properties?.correlationData?.toString('utf8');
    const pending = id === undefined ? undefined : this.pending.get(id);
    // A duplicate, or the answer to a command that has had its reply already (timeout, restart).
    if (pending === undefined) return;
    const body = decode(payload, ReplyPayloadSchema, this.config.maxMessageBytes);
    if (!body.ok) {
      pending.finish({ ok: false, code: ErrorCodes.COMMAND_FAILED, error: `gateway ${pending.gateway} answered with a reply that is refused: ${quoteForLog(body.error, 200)}` });
      return;
    }
    const reply = body.value;
    pending.finish(reply.ok ? { ok: true, value: reply.value ?? null } : { ok: false, error: reply.error ?? 'failed', ...(reply.code === undefined ? {} : { code: reply.code }) });
  }

  /** A request from another gateway: run through this core, exactly one reply on its response topic. */
  private async onRequest(payload: Buffer, packet: IPublishPacket): Promise<void> {
    const client = this.client;
    const responseTopic = packet.properties?.responseTopic;
    const correlation = packet.properties?.correlationData;
    if (client === undefined) return;
    if (responseTopic === undefined || correlation === undefined || correlation.length > 128 || !this.topics.isResponseTopic(responseTopic)) {
      this.warnOnce('request', `cluster: a request without a response topic of the cluster (<${this.config.name}>/<gateway>/reply) and correlation data is dropped (${ErrorCodes.COMMAND_INVALID}); logged once`);
      return;
    }
    // QoS 1 may deliver a request twice (a broker restart): it runs once.
    const key = `${responseTopic}\u0000${correlation.toString('hex')}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (this.seen.size > SEEN_REQUESTS) this.seen.delete(this.seen.values().next().value as string);
    const answer = (reply: ReplyInit): void => {
      client.publish(responseTopic, encodeReply(reply), { qos: 1, retain: false, properties: { correlationData: correlation } }, (error) => {
        if (error) this.ctx.logger.debug(`cluster: reply not sent: ${describeError(error)}`);
      });
    };
    const user = packet.properties?.userProperties ?? {};
    const boot = user.boot;
    if (typeof boot === 'string' && boot !== this.boot) {
      answer({ ok: false, code: ErrorCodes.GATEWAY_RESTARTED, error: `gateway ${this.config.gateway} restarted since the command was sent; not carried out` });
      return;
    }
    // The reply needs time to travel back too: a command that could only answer after its
    // asker's deadline is not started (the asker has its timeout reply by then).
    const remaining = Number(user.deadline) - Date.now() - REPLY_TRANSIT_MS;
    if (!(remaining > 0)) {
      const asker = this.topics.parse(responseTopic)?.gateway;
      this.ctx.logger.info({ asker, code: ErrorCodes.COMMAND_TIMEOUT }, `cluster: a command from gateway ${asker} reached this gateway after its deadline (its asker has had its timeout reply); not carried out`);
      answer({ ok: false, code: ErrorCodes.COMMAND_TIMEOUT, error: `the command reached gateway ${this.config.gateway} after its asker's deadline; not carried out` });
      return;
    }
    const request = decode(payload, RequestSchema, this.config.maxMessageBytes);
    if (!request.ok) {
      this.ctx.logger.warn({ code: ErrorCodes.COMMAND_INVALID }, `cluster: a forwarded command is refused (${ErrorCodes.COMMAND_INVALID}): ${quoteForLog(request.error, 200)}`);
      answer({ ok: false, code: ErrorCodes.COMMAND_INVALID, error: `invalid command: ${request.error}` });
      return;
    }
    const { device, channel, action, value, args } = request.value;
    const input = channel !== undefined ? { device, channel, value: value ?? null } : { device, action: action as string, ...(args === undefined ? {} : { args }) };
    const reply = await this.ctx.submit(input, { timeoutMs: remaining });
    answer(reply.ok ? { ok: true, value: reply.value ?? null } : { ok: false, error: reply.error ?? 'failed', ...(reply.code === undefined ? {} : { code: reply.code }) });
  }

  private warnOnce(key: string, line: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.ctx.logger.warn(line);
  }

  // ---- health (19.7) ----

  health(): ClusterHealth {
    const gateways: ClusterGatewayHealth[] = [
      { id: this.config.gateway, status: this.ready ? 'online' : 'unknown', self: true, devices: [...this.local].filter(([, c]) => c.shared).map(([d]) => d).sort() },
    ];
    for (const peer of [...this.peers.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      gateways.push({ id: peer.id, status: peer.status, devices: [...this.active].filter(([, a]) => a.gateway === peer.id).map(([d]) => d).sort() });
    }
    return { cluster: this.config.name, gateway: this.config.gateway, broker: this.broker, connected: this.ready, gateways, refused: [...this.refused.values()] };
  }

  /** The link state, per host in `/healthz`. */
  private report(): void {
    const others = [...this.peers.values()];
    const online = others.filter((p) => p.status === 'online').length;
    const parts = others.map((p) => `${p.id} ${p.status}`);
    const refused = this.refused.size;
    this.ctx.connection({
      connected: this.ready,
      peers: online,
      detail: `${this.ready ? 'broker up' : 'broker down'}; gateways: ${parts.join(', ') || 'none yet'}${refused > 0 ? `; ${refused} device ids refused as duplicates` : ''}`,
    });
  }
}
