/**
 * The embedded broker: aedes on a TCP listener, for a gateway with no broker of its own to
 * talk to. aedes speaks MQTT 3.1.1 (and 3.1) only, so MQTT 5's response topics need a real
 * broker (mosquitto); on this one, replies go to `/set/result`.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AedesPublishPacket } from 'aedes';
import mqttPacket from 'mqtt-packet';
import { describeError, ErrorCodes, PatchbayError, type Logger } from '@patchbay/core';

/** Options of {@link EmbeddedBroker}. */
export interface EmbeddedBrokerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  maxConnections: number;
  /** Largest PUBLISH payload accepted from a client, bytes; bigger ones are refused and the client disconnected. */
  maxPayloadBytes: number;
  /**
   * Largest packet (remaining length) a client may announce; the connection is closed on the
   * announcing header, before the packet is buffered. Default: maxPayloadBytes plus room for a
   * topic of the longest length MQTT allows.
   */
  maxPacketBytes?: number;
  /** CONNECT must arrive within this time of the accept (aedes' connectTimeout, default 30 s there). */
  connectTimeoutMs?: number;
  /**
   * A packet begun must be complete within this time (default 30 s). Keep-alive cannot stand in:
   * a client may turn it off, and aedes restarts it on every packet, not on a packet's bytes.
   */
  packetTimeoutMs?: number;
  logger: Logger;
}

/**
 * The largest packet a client may announce: `maxPacketBytes`, or by default the payload limit
 * plus room for a topic of the longest length MQTT allows (2 + 65,535 bytes) and a packet id.
 */
export function packetLimit(options: Pick<EmbeddedBrokerOptions, 'maxPayloadBytes' | 'maxPacketBytes'>): number {
  return options.maxPacketBytes ?? options.maxPayloadBytes + 65_542;
}

/** CONNECT within this time of the accept unless configured otherwise (aedes' own default is 30 s). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** A begun packet must be complete within this time unless configured otherwise. */
export const DEFAULT_PACKET_TIMEOUT_MS = 30_000;

/** How often begun packets are checked against their deadline. */
const PACKET_SWEEP_MS = 1000;

/** A connection with no CONNECT yet for this long may be closed to admit a newcomer at maxConnections. */
const UNCONNECTED_EVICTABLE_MS = 1000;

/**
 * An aedes broker listening on host:port, capped in connections, packet and payload size. At
 * maxConnections the oldest connection that has not sent its CONNECT for a second is closed for
 * the newcomer, so a flood of silent sockets cannot hold real clients off until the deadline.
 */
export class EmbeddedBroker {
  private broker: Aedes | undefined;
  private server: Server | undefined;
  /** Open connections in accept order, and whether each has been through CONNECT. */
  private readonly sockets = new Map<Socket, { acceptedAt: number; connected: boolean; guard: PacketLengthGuard }>();
  private capped = 0;
  private sweep: NodeJS.Timeout | undefined;

  constructor(private readonly options: EmbeddedBrokerOptions) {}

  /** The bound port, once started. */
  get port(): number | undefined {
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : undefined;
  }

  /** The URL clients connect to. */
  get url(): string {
    return `mqtt://${this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host}:${this.port ?? this.options.port}`;
  }

  async start(): Promise<void> {
    const { maxPayloadBytes, logger } = this.options;
    const maxPacketBytes = packetLimit(this.options);
    // aedes writes through mqtt-packet, which would build 65,536 packet-id Buffers (6.3 MB of
    // heap) on its first write; our MQTT.js clients turn the same cache off (writeCache).
    mqttPacket.writeToStream.cacheNumbers = false;
    const broker = await Aedes.createBroker({
      connectTimeout: this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      // A client may publish at most maxPayloadBytes; the adapter caps /set itself, this keeps
      // any other client from filling the broker's retained store with huge messages.
      authorizePublish: (_client, packet, callback) => {
        const size = typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length;
        if (size > maxPayloadBytes) callback(new Error(`payload of ${size} bytes over the embedded broker's limit of ${maxPayloadBytes}`));
        else callback(null);
      },
    });
    broker.on('clientError', (client, error) => logger.debug({ client: client.id }, `embedded broker: client ${client.id} error: ${describeError(error)}`));
    broker.on('client', (client) => {
      const held = this.sockets.get(client.conn as Socket);
      if (held) held.connected = true;
    });
    const server = createServer((socket) => {
      if (!this.admit(socket)) return;
      const guard = new PacketLengthGuard(maxPacketBytes);
      this.sockets.set(socket, { acceptedAt: Date.now(), connected: false, guard });
      socket.once('close', () => this.sockets.delete(socket));
      broker.handle(socket);
      // With aedes' 'readable' listener in control, 'data' fires for each chunk it reads, before
      // its parser sees it: a packet announcing more than maxPacketBytes ends here.
      socket.on('data', (chunk: Buffer) => {
        const over = guard.feed(chunk);
        if (over === undefined) return;
        logger.warn({ limit: maxPacketBytes }, `embedded broker: a client announced a packet of ${over} bytes, over the limit of ${maxPacketBytes}; connection closed`);
        socket.destroy();
      });
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: this.options.host, port: this.options.port, exclusive: true }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      throw new PatchbayError(ErrorCodes.START_FAILED, `the embedded MQTT broker cannot listen on ${this.options.host}:${this.options.port}: ${describeError(error)}`, {
        context: { host: this.options.host, port: this.options.port },
        cause: error,
      });
    }
    server.on('error', (error) => logger.warn(`embedded broker: ${describeError(error)}`));
    const packetTimeoutMs = this.options.packetTimeoutMs ?? DEFAULT_PACKET_TIMEOUT_MS;
    this.sweep = setInterval(() => {
      const begunBefore = Date.now() - packetTimeoutMs;
      for (const [socket, { guard }] of this.sockets) {
        if (guard.startedAt === undefined || guard.startedAt > begunBefore) continue;
        logger.warn(`embedded broker: a packet begun ${Date.now() - guard.startedAt} ms ago is not complete (packetTimeoutMs ${packetTimeoutMs}); connection closed`);
        this.sockets.delete(socket);
        socket.destroy();
      }
    }, Math.min(PACKET_SWEEP_MS, packetTimeoutMs));
    this.sweep.unref();
    this.broker = broker;
    this.server = server;
    logger.info({ url: this.url }, `embedded MQTT broker (3.1.1) listening on ${this.url}`);
  }

  async stop(): Promise<void> {
    const server = this.server;
    const broker = this.broker;
    this.server = undefined;
    this.broker = undefined;
    clearInterval(this.sweep);
    this.sweep = undefined;
    if (server) {
      for (const socket of this.sockets.keys()) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
  }

  /** At the cap, make room by closing a connection still without CONNECT (silent ones first), or refuse the newcomer. */
  private admit(socket: Socket): boolean {
    const { maxConnections, logger } = this.options;
    if (this.sockets.size < maxConnections) {
      if (this.capped > 0 && this.sockets.size < maxConnections - 1) {
        logger.warn(`embedded broker: below maxConnections again (${this.capped} connections closed at the cap)`);
        this.capped = 0;
      }
      return true;
    }
    // The oldest that has sent nothing, else the oldest still sending its CONNECT (in accept order).
    const before = Date.now() - UNCONNECTED_EVICTABLE_MS;
    let waiting: Socket | undefined;
    for (const [open, { acceptedAt, connected }] of this.sockets) {
      if (acceptedAt > before) break;
      if (connected) continue;
      if (open.bytesRead === 0) {
        waiting = open;
        break;
      }
      waiting ??= open;
    }
    if (this.capped++ === 0) logger.warn({ limit: maxConnections }, `embedded broker: ${maxConnections} connections open (maxConnections); closing ones without CONNECT, else newcomers`);
    if (waiting) {
      this.sockets.delete(waiting);
      waiting.destroy();
      return true;
    }
    socket.destroy();
    return false;
  }
}

/**
 * Follows MQTT's fixed headers through a byte stream (type byte, then a remaining length of one
 * to four 7-bit groups) and reports the first one announcing more than `max` bytes.
 */
export class PacketLengthGuard {
  /** Bytes of the current packet's body still to skip. */
  private skip = 0;
  private length = 0;
  private multiplier = 1;
  private inHeader = false;
  /** When the packet being read began; undefined between packets. */
  startedAt: number | undefined;

  constructor(private readonly max: number) {}

  /** The announced length when a packet is over the limit; undefined otherwise. */
  feed(chunk: Buffer): number | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        if (this.skip === 0) this.startedAt = undefined;
        continue;
      }
      const byte = chunk[i++] as number;
      if (!this.inHeader) {
        // The type byte; the remaining length follows.
        this.inHeader = true;
        this.length = 0;
        this.multiplier = 1;
        this.startedAt = Date.now();
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      if (this.length > this.max) return this.length;
      if ((byte & 0x80) === 0 || this.multiplier >= 128 ** 4) {
        // A fifth length byte is malformed: aedes' parser refuses it, nothing to add here.
        this.inHeader = false;
        this.skip = this.length;
        if (this.skip === 0) this.startedAt = undefined;
      }
    }
    return undefined;
  }
}

export type { AedesPublishPacket };
