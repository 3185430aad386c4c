/**
 * The embedded broker: aedes on a TCP listener, for a gateway with no broker of its own to
 * talk to. aedes speaks MQTT 3.1.1 (and 3.1) only, so MQTT 5's response topics need a real
 * broker (mosquitto); on this one, replies go to `/set/result`.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AedesPublishPacket } from 'aedes';
import { describeError, ErrorCodes, PatchbayError, type Logger } from '@patchbay/core';

/** Options of {@link EmbeddedBroker}. */
export interface EmbeddedBrokerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  maxConnections: number;
  /** Largest PUBLISH payload accepted from a client, bytes; bigger ones are refused and the client disconnected. */
  maxPayloadBytes: number;
  logger: Logger;
}

/** An aedes broker listening on host:port, capped in connections and payload size. */
export class EmbeddedBroker {
  private broker: Aedes | undefined;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

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
    const broker = await Aedes.createBroker({
      // A client may publish at most maxPayloadBytes; the adapter caps /set itself, this keeps
      // any other client from filling the broker's retained store with huge messages.
      authorizePublish: (_client, packet, callback) => {
        const size = typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length;
        if (size > maxPayloadBytes) callback(new Error(`payload of ${size} bytes over the embedded broker's limit of ${maxPayloadBytes}`));
        else callback(null);
      },
    });
    broker.on('clientError', (client, error) => logger.debug({ client: client.id }, `embedded broker: client ${client.id} error: ${describeError(error)}`));
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      broker.handle(socket);
    });
    server.maxConnections = this.options.maxConnections;
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
    this.broker = broker;
    this.server = server;
    logger.info({ url: this.url }, `embedded MQTT broker (3.1.1) listening on ${this.url}`);
  }

  async stop(): Promise<void> {
    const server = this.server;
    const broker = this.broker;
    this.server = undefined;
    this.broker = undefined;
    if (server) {
      for (const socket of this.sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
  }
}

export type { AedesPublishPacket };
