/**
 * A TCP proxy in front of the broker that reads the MQTT packets going through it: which
 * PUBLISH the broker sent its client (topic and packet id) and which PUBACKs came back, so a
 * test sees when a gateway acknowledges a message without looking inside the gateway.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Signal } from '@patchbay/testing';

/** A QoS 1 or 2 PUBLISH the broker sent the client. */
export interface TappedPublish {
  topic: string;
  packetId: number;
}

/** MQTT's control packet types (MQTT 5 §2.1.2) that the tap reads. */
const PUBLISH = 3;
const PUBACK = 4;

/**
 * Splits a byte stream into MQTT control packets (fixed header, then a remaining length as a
 * variable byte integer, MQTT 5 §2.1.4) and hands each one's type, flags and body to `packet`.
 */
function packetReader(packet: (type: number, flags: number, body: Buffer) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      let length = 0;
      let multiplier = 1;
      let at = 1;
      for (;;) {
        if (at >= pending.length) return;
        const byte = pending[at++] as number;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) break;
      }
      if (pending.length < at + length) return;
      const first = pending[0] as number;
      packet(first >> 4, first & 0x0f, pending.subarray(at, at + length));
      pending = pending.subarray(at + length);
    }
  };
}

export class PacketTap {
  /** What the broker sent the client at QoS 1 or 2, in order. */
  readonly published: TappedPublish[] = [];
  /** Packet ids of the PUBACKs the client sent, in order. */
  readonly acked: number[] = [];
  readonly changed = new Signal();
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  port = 0;

  private constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((inbound) => this.accept(inbound));
  }

  static async start(target: { host: string; port: number }): Promise<PacketTap> {
    const tap = new PacketTap(target);
    await new Promise<void>((resolve) => tap.server.listen(0, '127.0.0.1', resolve));
    tap.port = (tap.server.address() as { port: number }).port;
    return tap;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** The broker's PUBLISH on `topic` to the client (the first one from `from` on). */
  waitPublish(topic: string, from = 0): Promise<TappedPublish> {
    return this.changed.waitUntil(() => this.published.slice(from).find((p) => p.topic === topic), { timeoutMs: 15_000, what: `the broker's PUBLISH on ${topic}` });
  }

  waitAck(packetId: number): Promise<number> {
    return this.changed.waitUntil(() => this.acked.find((id) => id === packetId), { timeoutMs: 15_000, what: `the client's PUBACK for packet ${packetId}` });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(inbound: Socket): void {
    const outbound = connect(this.target.port, this.target.host);
    for (const socket of [inbound, outbound]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    const fromBroker = packetReader((type, flags, body) => {
      const qos = (flags >> 1) & 0x03;
      if (type !== PUBLISH || qos === 0) return;
      const topicLength = body.readUInt16BE(0);
      this.published.push({ topic: body.subarray(2, 2 + topicLength).toString('utf8'), packetId: body.readUInt16BE(2 + topicLength) });
      this.changed.notify();
    });
    const fromClient = packetReader((type, _flags, body) => {
      if (type !== PUBACK) return;
      this.acked.push(body.readUInt16BE(0));
      this.changed.notify();
    });
    // Read here, forwarded unchanged: the tap only watches.
    outbound.on('data', (chunk: Buffer) => {
      fromBroker(chunk);
      inbound.write(chunk);
    });
    inbound.on('data', (chunk: Buffer) => {
      fromClient(chunk);
      outbound.write(chunk);
    });
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  }
}
