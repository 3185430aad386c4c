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
import { brokerSettings, openClient, untilFirstConnect, wireClient } from '@patchbay/adapter-mqtt/internal';
import { describeError, ErrorCodes, type Adapter, type HostContext, type OutboundEvent } from '@patchbay/core';
import type { IPublishPacket, MqttClient } from 'mqtt';
import type { ClusterConfig } from './config.js';
import { IncomingCommands } from './incomingCommands.js';
import { clusterHealth, type ClusterHealth } from './linkHealth.js';
import { LocalDevices } from './localDevices.js';
import { AnnouncementSchema, decode } from './protocol/payload.js';
import type { ClusterTopics } from './protocol/topics.js';
import { RemoteDevices, type RemoteRegistry } from './remoteDevices.js';
import { LinkSession, unreachable } from './session.js';

export type { ClusterGatewayHealth, ClusterHealth } from './linkHealth.js';
export type { RemoteRegistry } from './remoteDevices.js';

/** What the app hands the link besides its config. */
export interface ClusterLinkOptions {
  /** The running gateway (read when the link starts: the gateway is made after its hosts' definitions). */
  registry: () => RemoteRegistry;
  /** How long a forwarded command may take, ms: the gateway's `commandTimeoutMs`. */
  commandTimeoutMs: number;
}

/** How long a clean stop waits for the broker to ack what is in flight. */
const STOP_GRACE_MS = 2000;
/** How long the retained messages may take to come in after a subscription. */
const SYNC_TIMEOUT_MS = 5000;

/**
 * The cluster link (an {@link Adapter} of the core), with its health: the connection's life
 * (connect, subscribe, sync, online, reconnect, stop) and the dispatch of what comes in, over
 * the parts that do the work: {@link LocalDevices} (publishing ours), {@link RemoteDevices}
 * (showing theirs, with the commands forwarded to them) and {@link IncomingCommands}.
 */
export class ClusterLink implements Adapter {
  readonly topics: ClusterTopics;
  private readonly session: LinkSession;
  private readonly local: LocalDevices;
  private readonly remote: RemoteDevices;
  private readonly incoming: IncomingCommands;
  private onReady: (() => void) | undefined;
  private sync: { nonce: string; done: () => void } | undefined;
  private firstConnect = true;
  private readonly registry: () => RemoteRegistry;

  constructor(config: ClusterConfig & { gateway: string }, ctx: HostContext, options: ClusterLinkOptions) {
    const session = (this.session = new LinkSession(config, ctx));
    this.topics = session.topics;
    // The local side asks the remote side to decide a claim; the remote side reads the local claims.
    this.local = new LocalDevices(session, (device) => this.remote.schedule(device));
    this.remote = new RemoteDevices({ session, local: this.local, registry: options.registry, commandTimeoutMs: options.commandTimeoutMs });
    this.incoming = new IncomingCommands(session);
    this.registry = options.registry;
  }

  get connected(): boolean {
    return this.session.ready;
  }

  async start(): Promise<void> {
    const { session } = this;
    const { config, ctx } = session;
    this.firstConnect = true;
    const client = openClient({
      url: config.url,
      clientId: `patchbay-cluster-${config.name}-${config.gateway}`,
      protocolVersion: 5,
      ...brokerSettings(config),
      will: { topic: session.topics.status(), payload: 'offline' },
    });
    session.client = client;
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
    client.handleMessage = (packet, callback) => this.acknowledge(packet, callback);
    wireClient(client, { onConnect: () => void this.onConnect(client), onError: (reason) => ctx.logger.warn({ broker: session.broker }, `cluster: ${reason}`) });
    client.on('close', () => {
      if (!session.ready) return;
      session.ready = false;
      ctx.status('unknown', `broker ${session.broker} unreachable; reconnecting every ${config.reconnectMs} ms`);
      this.remote.linkDown();
    });
    const first = untilFirstConnect(client, ctx.signal);
    this.onReady = first.ready;
    await first.settled;
    this.onReady = undefined;
    if (!session.ready) ctx.logger.warn({ broker: session.broker }, `cluster: broker ${session.broker} not reachable yet; retrying every ${config.reconnectMs} ms`);
  }

  async stop(): Promise<void> {
    const { session } = this;
    const client = session.client;
    session.client = undefined;
    this.remote.commands.failAll({ ok: false, code: ErrorCodes.GATEWAY_STOPPING, error: 'the gateway is stopping' });
    if (client) {
      const connected = session.ready;
      if (connected) await session.publish(client, { topic: session.topics.status(), payload: 'offline', retain: true }).catch(() => undefined);
      session.ready = false;
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
    session.ready = false;
    await this.remote.removeAll();
  }

  // ---- publishing this gateway's devices (19.2) ----

  deliver(event: OutboundEvent): Promise<void> | void {
    const client = this.session.client;
    if (!client || !this.session.ready) throw unreachable(`broker ${this.session.broker} not connected`);
    const publishing = this.local.publish(client, event);
    return publishing === undefined ? undefined : publishing;
  }

  async deliverBatch(events: readonly OutboundEvent[]): Promise<void> {
    const client = this.session.client;
    if (!client || !this.session.ready) throw unreachable(`broker ${this.session.broker} not connected`);
    const publishing: Promise<void>[] = [];
    for (const event of events) {
      const p = this.local.publish(client, event);
      if (p) publishing.push(p);
    }
    await Promise.all(publishing);
  }

  /** Every (re)connection: subscribe, read what the broker kept, say online, then publish our devices again. */
  private async onConnect(client: MqttClient): Promise<void> {
    const { session } = this;
    const { config, ctx, topics } = session;
    try {
      const nonce = randomBytes(8).toString('hex');
      const back = new Promise<void>((resolve) => {
        this.sync = { nonce, done: resolve };
      });
      const timer = setTimeout(() => this.sync?.done(), SYNC_TIMEOUT_MS);
      try {
        const subscriptions: Record<string, { qos: 1 }> = {};
        for (const filter of topics.subscriptions()) subscriptions[filter] = { qos: 1 };
        await client.subscribeAsync(subscriptions);
        // Retained messages come right after the subscription; this one comes back behind them.
        await session.publish(client, { topic: topics.sync, payload: nonce, retain: false });
        await back;
      } finally {
        clearTimeout(timer);
        this.sync = undefined;
      }
      if (this.firstConnect) await this.local.clearGone(client);
      this.firstConnect = false;
      await session.publish(client, { topic: topics.status(), payload: 'online', retain: true, properties: { userProperties: { boot: session.boot } } });
      if (session.client !== client) return;
      session.ready = true;
      ctx.status('alive');
      this.onReady?.();
      ctx.logger.info({ broker: session.broker, cluster: config.name, gateway: config.gateway }, `cluster: connected to ${session.broker} as ${config.gateway} of ${config.name}`);
      this.remote.report();
      this.remote.showAll();
      await this.local.republish(client);
    } catch (error) {
      ctx.logger.debug(`cluster: connection setup interrupted: ${describeError(error)}`);
    }
  }

  /**
   * MQTT.js sends a QoS 1 message's PUBACK when this calls back, and takes the next packet only
   * then. It calls it after the `message` event, so what the message made this core route is
   * in the journal's buffer by now. A momentary event is written out first, and only then is
   * the broker told it may forget it (19.6): a gateway killed in between gets it again from its
   * persistent session, and its hosts get it from there. One at a time: a slow disk holds the
   * link back (the broker keeps the rest, within its receive window) rather than this process's
   * memory.
   *
   * The rest is acknowledged at once. What the broker keeps retained (descriptions, states,
   * availability, statuses) comes again with the next run's subscription, as the latest value,
   * which is what a host waiting for a channel is owed anyway; waiting for the disk on each
   * state would cost the fan-out rate its batching (with `fsync: batch`, 10 000+ states/s fell
   * under 1 000 in bench/cluster). A command is not journaled here (a restarted gateway refuses
   * what its earlier run was asked, PB210), and a reply is journaled by the core the moment it
   * routes it (one acked but not yet routed is a command journaled as open: the next run
   * answers it PB210, once). Not covered: a momentary event held until its owner is online (on
   * a reconnection the owner's retained status comes after it, so holding its PUBACK would
   * hold up the status too).
   */
  private acknowledge(packet: IPublishPacket, callback: (error?: Error) => void): void {
    if (packet.qos === 0 || this.session.topics.parse(packet.topic)?.kind !== 'event') {
      callback();
      return;
    }
    this.registry()
      .flushJournal()
      .then(
        () => callback(),
        (error: unknown) => callback(error instanceof Error ? error : new Error(describeError(error))),
      );
  }

  /** What comes in, to the part it is for (19.3, 19.4, 19.5). */
  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const parsed = this.session.topics.parse(topic);
    if (parsed === undefined) return;
    const me = this.session.config.gateway;
    switch (parsed.kind) {
      case 'sync':
        if (this.sync !== undefined && payload.toString() === this.sync.nonce) this.sync.done();
        return;
      case 'command':
        if (parsed.gateway === me) void this.incoming.onRequest(payload, packet);
        return;
      case 'reply':
        if (parsed.gateway === me) this.remote.commands.onReply(payload, packet);
        return;
      case 'status':
        if (parsed.gateway !== me) this.remote.onStatus(parsed.gateway, payload, packet);
        return;
    }
    if (parsed.gateway === me) {
      // Our own announcement from an earlier run: keep its claim's age.
      if (parsed.kind === 'description' && payload.length > 0) {
        const announced = decode(payload, AnnouncementSchema, this.session.config.maxMessageBytes);
        if (announced.ok) this.local.announcedEarlier(parsed.device, announced.value.since);
      }
      return;
    }
    this.remote.onDeviceMessage(parsed, payload, packet);
  }

  // ---- health (19.7) ----

  health(): ClusterHealth {
    return clusterHealth(this.session, this.remote, this.local.shared());
  }
}
