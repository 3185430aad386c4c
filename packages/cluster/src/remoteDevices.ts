import { topicLevelProblem } from '@patchbay/adapter-mqtt/internal';
import {
  describeError,
  ErrorCodes,
  isPatchbayError,
  quoteForLog,
  type Availability,
  type CommandEvent,
  type DeviceDescription,
  type DriverContext,
  type JsonValue,
  type RemoteDeviceSpec,
  type ReplyInit,
} from '@patchbay/core';
import type { IPublishPacket } from 'mqtt';
import { ForwardedCommands, type PeerState } from './forwardedCommands.js';
import { reportConnection, type RefusedDevice } from './linkHealth.js';
import type { LocalDevices } from './localDevices.js';
import { AnnouncementSchema, AvailabilityPayloadSchema, decode, EventPayloadSchema, StatePayloadSchema } from './protocol/payload.js';
import type { ClusterTopic } from './protocol/topics.js';
import type { LinkSession } from './session.js';
import { standInDefinition } from './standIn.js';

/** What the link needs of the gateway it runs in: the core's remote-device seam, and its journal's flush. */
export interface RemoteRegistry {
  addRemoteDevice(spec: RemoteDeviceSpec): Promise<void>;
  removeRemoteDevice(id: string): Promise<boolean>;
  /** Resolves once what the core journaled so far is written (`Gateway.flushJournal`). */
  flushJournal(): Promise<void>;
}

/** A topic about one device of another gateway. */
export type DeviceTopic = Extract<ClusterTopic, { device: string }>;

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

interface Peer extends PeerState {
  id: string;
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

/** What the remote side is built with. */
export interface RemoteDevicesOptions {
  session: LinkSession;
  local: LocalDevices;
  /** The running gateway (read when needed: the gateway is made after its hosts' definitions). */
  registry: () => RemoteRegistry;
  /** How long a forwarded command may take, ms. */
  commandTimeoutMs: number;
}

/** Momentary events held per device while its owner is not online yet. */
const MAX_HELD_EVENTS = 1000;

/**
 * The other gateways' devices (issues 19.3, 19.5): what each gateway announces, who holds each
 * device id (the oldest claim), and the remote devices shown to this core through stand-in
 * drivers, fed what their owners publish and offline whenever they cannot be reached.
 */
export class RemoteDevices {
  readonly peers = new Map<string, Peer>();
  readonly active = new Map<string, Active>();
  /** `<gateway>\0<device>` → why it is refused. */
  readonly refused = new Map<string, RefusedDevice>();
  /** Commands to remote devices, on their way to the owners. */
  readonly commands: ForwardedCommands;
  private registryOps: Promise<unknown> = Promise.resolve();
  private readonly session: LinkSession;
  private readonly local: LocalDevices;
  private readonly registry: () => RemoteRegistry;

  constructor(options: RemoteDevicesOptions) {
    this.session = options.session;
    this.local = options.local;
    this.registry = options.registry;
    this.commands = new ForwardedCommands(options.session, this.peers, options.commandTimeoutMs);
  }

  /** Our link went down: what the others said may have changed meanwhile (their retained status tells again on reconnect). */
  linkDown(): void {
    for (const peer of this.peers.values()) peer.status = 'unknown';
    this.report();
    this.showAll();
  }

  /** Hands the core every remote device's availability anew (the link went up or down). */
  showAll(): void {
    for (const device of this.active.keys()) this.show(device);
  }

  /** Takes every remote device away from the core once the decisions in progress are done (the link stops). */
  async removeAll(): Promise<void> {
    await this.registryOps;
    // Their stand-ins are wired to this link: a link started again (a reload, a restart) adds
    // them anew from what the broker kept.
    const registry = this.registry();
    for (const device of [...this.active.keys()]) {
      this.active.delete(device);
      await registry.removeRemoteDevice(device).catch((error: unknown) => this.session.ctx.logger.warn({ err: error, device }, `cluster: ${describeError(error)}`));
    }
  }

  /** What another gateway publishes about one of its devices. */
  onDeviceMessage(parsed: DeviceTopic, payload: Buffer, packet: IPublishPacket): void {
    const { gateway, device } = parsed;
    if (topicLevelProblem(gateway) !== undefined || topicLevelProblem(device) !== undefined) return;
    const maxBytes = this.session.config.maxMessageBytes;
    switch (parsed.kind) {
      case 'description':
        this.onDescription(parsed, payload);
        return;
      case 'availability': {
        const body = this.decodeFrom(parsed, decode(payload, AvailabilityPayloadSchema, maxBytes));
        if (body === undefined) return;
        this.record(gateway, device).availability = { availability: body.availability, reason: body.reason };
        this.show(device);
        return;
      }
      case 'state': {
        const body = this.decodeFrom(parsed, decode(payload, StatePayloadSchema, maxBytes));
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
        const body = this.decodeFrom(parsed, decode(payload, EventPayloadSchema, maxBytes));
        if (body === undefined) return;
        const record = this.record(gateway, device);
        if (record.lastEvent !== undefined && body.id <= record.lastEvent) return;
        record.lastEvent = body.id;
        // Held only for the gateway that holds the id here (or may, once its claim is decided).
        const holder = this.active.get(device)?.gateway;
        if ((holder !== undefined && holder !== gateway) || this.local.claim(device) !== undefined) return;
        // The owner's client sends what it held while away before it says online again: held
        // here until it does (or its device is shown), so the event is neither lost nor early.
        if (record.held.length >= MAX_HELD_EVENTS) {
          record.held.shift();
          this.session.warnOnce(`held\u0000${gateway}\u0000${device}`, `cluster: more than ${MAX_HELD_EVENTS} momentary events of ${device} wait for gateway ${gateway} to be online; the oldest are dropped (logged once)`);
        }
        record.held.push({ channel: parsed.channel, value: body.value });
        this.flushEvents(device);
        return;
      }
    }
  }

  /** Another gateway's retained status: `online` (with its run's boot id) or `offline` (its last will). */
  onStatus(gateway: string, payload: Buffer, packet: IPublishPacket): void {
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
        this.commands.failFor(gateway, { ok: false, code: ErrorCodes.GATEWAY_RESTARTED, error: `gateway ${gateway} restarted before it answered; the command may or may not have been carried out` });
      }
      peer.boot = next ?? peer.boot;
    }
    if (before !== peer.status) {
      const line = `cluster: gateway ${gateway} is ${peer.status}${peer.status === 'offline' ? ' (its devices are offline)' : ''}`;
      if (peer.status === 'offline') this.session.ctx.logger.warn({ gateway }, line);
      else this.session.ctx.logger.info({ gateway }, line);
    }
    this.report();
    for (const device of peer.devices.keys()) this.show(device);
  }

  /** Decide who holds `device` once every earlier decision is done: one at a time, in order. */
  schedule(device: string): void {
    this.registryOps = this.registryOps.then(() => this.reconcile(device)).catch((error: unknown) => this.session.ctx.logger.error({ err: error, device }, `cluster: ${describeError(error)}`));
  }

  /** The link state, per host in `/healthz`. */
  report(): void {
    reportConnection(this.session, this);
  }

  /** A decoded payload's value, or undefined when it was refused (logged once per topic). */
  private decodeFrom<T>(parsed: DeviceTopic, result: ReturnType<typeof decode<T>>): T | undefined {
    if (result.ok) return result.value;
    // Rebuilt rather than carried along: only a refused message needs its topic.
    const topic = this.topicOf(parsed);
    if (this.session.firstTime(`bad\u0000${topic}`)) {
      const { gateway } = parsed;
      this.session.ctx.logger.warn({ gateway, topic: quoteForLog(topic) }, `cluster: a message from gateway ${gateway} on ${quoteForLog(topic)} is refused (${ErrorCodes.EVENT_REJECTED}): ${quoteForLog(result.error, 200)} (logged once per topic)`);
    }
    return undefined;
  }

  private topicOf(parsed: DeviceTopic): string {
    const topics = this.session.topics;
    switch (parsed.kind) {
      case 'description':
        return topics.description(parsed.device, parsed.gateway);
      case 'availability':
        return topics.availability(parsed.device, parsed.gateway);
      case 'state':
        return topics.state(parsed.device, parsed.channel, parsed.gateway);
      case 'event':
        return topics.event(parsed.device, parsed.channel, parsed.gateway);
    }
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

  private onDescription(parsed: DeviceTopic, payload: Buffer): void {
    const { gateway, device } = parsed;
    const peer = this.peer(gateway);
    if (payload.length === 0) {
      // The owner withdrew the device.
      if (peer.devices.delete(device)) this.schedule(device);
      return;
    }
    const body = this.decodeFrom(parsed, decode(payload, AnnouncementSchema, this.session.config.maxMessageBytes));
    if (body === undefined) return;
    const record = this.record(gateway, device);
    const changed = JSON.stringify(record.description) !== JSON.stringify(body.description);
    record.since = body.since;
    record.description = body.description;
    const active = this.active.get(device);
    if (changed && active?.gateway === gateway && active.ctx && body.description !== null) active.ctx.describe(body.description);
    this.schedule(device);
  }

  /** The oldest claim to `device` holds it; every other is refused (logged once, in `/healthz`). */
  private async reconcile(device: string): Promise<void> {
    const { session } = this;
    const claims: { gateway: string; since: number }[] = [];
    const own = this.local.claim(device);
    if (own !== undefined) claims.push({ gateway: session.config.gateway, since: own.since });
    for (const peer of this.peers.values()) {
      const record = peer.devices.get(device);
      if (record?.since !== undefined && record.description !== undefined) claims.push({ gateway: peer.id, since: record.since });
    }
    claims.sort((a, b) => a.since - b.since || (a.gateway < b.gateway ? -1 : a.gateway > b.gateway ? 1 : 0));
    const winner = claims[0];
    for (const key of [...this.refused.keys()]) if (this.refused.get(key)?.device === device) this.refused.delete(key);
    const me = session.config.gateway;
    for (const loser of claims.slice(1)) {
      const reason = loser.gateway === me ? `this gateway's device "${device}" is not shared with the cluster: gateway "${(winner as { gateway: string }).gateway}" announced that id first` : undefined;
      this.refuse({ device, gateway: loser.gateway, heldBy: (winner as { gateway: string }).gateway, reason });
    }
    if (own !== undefined) {
      const shared = winner?.gateway === me;
      if (own.shared !== shared) {
        own.shared = shared;
        if (shared && session.client && session.ready) await this.local.republish(session.client).catch(() => undefined);
      }
    }
    const current = this.active.get(device);
    // A device of this gateway is always its own here, whoever holds the id in the cluster.
    const holder = own === undefined && winner !== undefined && winner.gateway !== me ? winner.gateway : undefined;
    if (current !== undefined && current.gateway === holder) return;
    if (current !== undefined) {
      this.active.delete(device);
      this.commands.failForDevice(device, { ok: false, code: ErrorCodes.DEVICE_UNAVAILABLE, error: `device ${device} is no longer served by gateway ${current.gateway}` });
      await this.registry().removeRemoteDevice(device);
    }
    if (holder === undefined) return;
    const active: Active = { gateway: holder, ctx: undefined, shown: undefined, emitted: new Map() };
    this.active.set(device, active);
    try {
      await this.registry().addRemoteDevice({ id: device, origin: holder, via: session.ctx.id, definition: standInDefinition({ attach: (ctx) => this.attach(device, active, ctx), detach: () => this.detach(device, active), send: (command) => this.forward(device, command) }) });
    } catch (error) {
      this.active.delete(device);
      if (!isPatchbayError(error, ErrorCodes.DEVICE_ID_TAKEN)) throw error;
      // A device of this gateway that is not shared with the cluster (routes), or a host id.
      this.refuse({ device, gateway: holder, heldBy: session.config.gateway, reason: error.message });
    }
    this.report();
  }

  private refuse({ device, gateway, heldBy, reason }: { device: string; gateway: string; heldBy: string; reason?: string | undefined }): void {
    const key = `${gateway}\u0000${device}`;
    if (this.refused.has(key)) return;
    const why = reason ?? `device id "${device}" announced by gateway "${gateway}" is already held by gateway "${heldBy}" (announced first); ignored here`;
    this.refused.set(key, { device, gateway, heldBy, reason: why });
    if (this.session.firstTime(`refused\u0000${key}\u0000${heldBy}`)) {
      this.session.ctx.logger.warn({ device, gateway, heldBy, code: ErrorCodes.DEVICE_ID_TAKEN }, `cluster: ${why} (${ErrorCodes.DEVICE_ID_TAKEN})`);
    }
  }

  /** The stand-in's `send`: an MQTT 5 request to the device's holder. */
  private forward(device: string, command: CommandEvent): Promise<ReplyInit> {
    return this.commands.send(device, this.active.get(device)?.gateway, command);
  }

  /**
   * A stand-in driver stopped: the gateway is stopping (a removal answered its commands
   * already). Its commands get their reply now, or the gateway's stop would wait for them
   * until its drain deadline, since hosts (the link among them) stop after the drain.
   */
  private detach(device: string, active: Active): void {
    active.ctx = undefined;
    this.commands.failForDevice(device, { ok: false, code: ErrorCodes.GATEWAY_STOPPING, error: 'the gateway is stopping' });
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
    if (!this.session.ready) return { availability: 'offline', reason: `the cluster link to ${this.session.broker} is down` };
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
}
