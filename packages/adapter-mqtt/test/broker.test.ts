/** Issue 13.7 on the embedded broker: a packet size checked on the header, a CONNECT deadline, room for real clients at the cap. */
import { connect, type Socket } from 'node:net';
import { captureLogger } from '@patchbay/testing';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker, type EmbeddedBrokerOptions } from '../src/internal.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function broker(options: Partial<EmbeddedBrokerOptions>): Promise<{ broker: EmbeddedBroker; recorded: ReturnType<typeof captureLogger> }> {
  const recorded = captureLogger();
  const b = new EmbeddedBroker({ host: '127.0.0.1', port: 0, maxConnections: 16, maxPayloadBytes: 4096, logger: recorded.logger, ...options });
  await b.start();
  cleanups.push(() => b.stop());
  return { broker: b, recorded };
}

/** A raw connection that sends `first` (if any) and records how long it lived. */
function raw(port: number, first?: Buffer): Promise<{ socket: Socket; closed: Promise<number>; isClosed: () => boolean }> {
  return new Promise((resolve) => {
    const openedAt = Date.now();
    const socket = connect(port, '127.0.0.1');
    let done = false;
    const closed = new Promise<number>((ok) =>
      socket.once('close', () => {
        done = true;
        ok(Date.now() - openedAt);
      }),
    );
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    cleanups.push(() => void socket.destroy());
    socket.once('connect', () => {
      if (first) socket.write(first);
      resolve({ socket, closed, isClosed: () => done });
    });
  });
}

/** An MQTT client connected to `url`; rejects when the broker closes it first (mqtt.js' connectAsync would wait). */
function client(url: string): Promise<MqttClient> {
  const c = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 });
  cleanups.push(() => c.endAsync(true));
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve(c));
    c.once('close', () => reject(new Error('closed before CONNACK')));
    c.once('error', reject);
  });
}

describe('mqtt embedded broker - admission (13.7)', () => {
  it('mqtt broker - a packet announcing more than maxPacketBytes is closed on its header, before its body is buffered; packets under it pass (13.7)', async () => {
    const { broker: b, recorded } = await broker({ maxPacketBytes: 8192, connectTimeoutMs: 60_000 });
    // CONNECT with a remaining length of 2 MiB - 1, and not a byte of it.
    const big = await raw(b.port as number, Buffer.of(0x10, 0xff, 0xff, 0x7f));
    expect(await big.closed).toBeLessThan(10_000);
    expect(recorded.find(/over the limit of 8192/, 'warn')).toHaveLength(1);
    // Ordinary traffic, several packets of all sizes under the limit, is followed packet by packet.
    const sub = await client(b.url);
    const pub = await client(b.url);
    await sub.subscribeAsync('t/#');
    const got = new Promise<number[]>((resolve) => {
      const sizes: number[] = [];
      sub.on('message', (_topic, payload) => {
        sizes.push(payload.length);
        if (sizes.length === 4) resolve(sizes);
      });
    });
    for (const size of [10, 200, 4000, 3]) await pub.publishAsync('t/x', Buffer.alloc(size, 0x61));
    expect(await got).toEqual([10, 200, 4000, 3]);
    // A PUBLISH after CONNECT announcing too much ends that client.
    const closed = new Promise<void>((resolve) => pub.stream.once('close', () => resolve()));
    pub.stream.write(Buffer.of(0x30, 0x80, 0x80, 0x04));
    await closed;
    expect(recorded.find(/over the limit of 8192/, 'warn')).toHaveLength(2);
  }, 30_000);

  it('mqtt broker - a connection with no CONNECT is closed at connectTimeoutMs, not at aedes\' 30 s (13.7)', async () => {
    const { broker: b } = await broker({ connectTimeoutMs: 1000 });
    const silent = await raw(b.port as number);
    const trickle = await raw(b.port as number, Buffer.of(0x10, 0x7f));
    const timer = setInterval(() => trickle.socket.writable && trickle.socket.write(Buffer.of(0)), 100);
    cleanups.push(() => clearInterval(timer));
    // 1 s, with room for a loaded machine; aedes' own default would keep them 30 s.
    for (const lived of await Promise.all([silent.closed, trickle.closed])) expect(lived).toBeLessThan(10_000);
  }, 40_000);

  it('mqtt broker - a packet after CONNECT trickled byte by byte is cut at packetTimeoutMs, even with keep-alive off; an idle client between packets is not (13.7)', async () => {
    const { broker: b, recorded } = await broker({ packetTimeoutMs: 1000 });
    const idle = await client(b.url);
    const c = mqtt.connect(b.url, { protocolVersion: 4, reconnectPeriod: 0, keepalive: 0 });
    cleanups.push(() => c.endAsync(true));
    await new Promise<void>((resolve) => c.once('connect', () => resolve()));
    const openedAt = Date.now();
    const closed = new Promise<number>((resolve) => c.stream.once('close', () => resolve(Date.now() - openedAt)));
    // PUBLISH announcing 1000 bytes, then one byte every 100 ms: 100 s to complete.
    c.stream.write(Buffer.of(0x30, 0xe8, 0x07));
    const timer = setInterval(() => c.stream.writable && c.stream.write(Buffer.of(0)), 100);
    cleanups.push(() => clearInterval(timer));
    // 1 s plus the once-a-second check, with room for a loaded machine.
    expect(await closed).toBeLessThan(10_000);
    expect(recorded.find(/packetTimeoutMs 1000/, 'warn')).toHaveLength(1);
    expect(idle.connected).toBe(true);
  }, 30_000);

  it('mqtt broker - at maxConnections the oldest connection without CONNECT gives way to a real client; CONNECTed clients keep their slots (13.7)', async () => {
    const { broker: b } = await broker({ maxConnections: 3, connectTimeoutMs: 60_000 });
    const real = await client(b.url);
    const silent = [await raw(b.port as number), await raw(b.port as number)];
    // Refused while the silent ones are younger than a second; then the oldest makes room.
    let newcomer: MqttClient | undefined;
    const deadline = Date.now() + 20_000;
    while (!newcomer && Date.now() < deadline) newcomer = await client(b.url).catch(() => undefined);
    expect(newcomer?.connected).toBe(true);
    expect(await silent[0]?.closed).toBeLessThan(20_000);
    expect(silent[1]?.isClosed()).toBe(false);
    expect(real.connected).toBe(true);
  }, 40_000);

  it('mqtt broker - at maxConnections with every client CONNECTed the newcomer is closed (13.7)', async () => {
    const { broker: b, recorded } = await broker({ maxConnections: 2, connectTimeoutMs: 60_000 });
    const clients = [await client(b.url), await client(b.url)];
    const newcomer = await raw(b.port as number);
    expect(await newcomer.closed).toBeLessThan(10_000);
    expect(recorded.find(/connections open \(maxConnections\)/, 'warn')).toHaveLength(1);
    for (const c of clients) expect(c.connected).toBe(true);
  }, 30_000);
});
