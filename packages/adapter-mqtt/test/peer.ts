/** An MQTT.js client for the tests: every message it receives, the latest per topic, and MQTT 5 requests. */
import { randomBytes } from 'node:crypto';
import { Signal } from '@patchbay/testing';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export interface Received {
  topic: string;
  payload: Buffer;
  text: string;
  retain: boolean;
  correlationData?: Buffer;
}

export class Peer {
  readonly messages: Received[] = [];
  readonly latest = new Map<string, string>();
  readonly changed = new Signal();
  private replyTopic: string;

  private constructor(readonly client: MqttClient) {
    this.replyTopic = `replies/${randomBytes(6).toString('hex')}`;
    client.on('message', (topic, payload, packet) => {
      const text = payload.toString('utf8');
      this.messages.push({ topic, payload, text, retain: packet.retain, correlationData: packet.properties?.correlationData });
      this.latest.set(topic, text);
      this.changed.notify();
    });
    client.on('connect', () => this.changed.notify());
  }

  /** Connects (MQTT 5 unless told) and subscribes to `filters` and its own reply topic. */
  static async open(url: string, filters: string[], options: IClientOptions = {}): Promise<Peer> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 200, ...options });
    const peer = new Peer(client);
    await client.subscribeAsync([...filters, peer.replyTopic].map(String), { qos: 1 });
    return peer;
  }

  /** The first message matching at or after index `from` of the messages seen. */
  waitFor(predicate: (m: Received) => boolean, { what, timeoutMs = 15_000, from = 0 }: { what: string; timeoutMs?: number; from?: number }): Promise<Received> {
    return this.changed.waitUntil(() => this.messages.slice(from).find(predicate), { what, timeoutMs });
  }

  /** Resolves once the latest payload on `topic` satisfies `accept`. */
  waitLatest(topic: string, accept: (text: string) => boolean, timeoutMs = 15_000): Promise<string> {
    return this.changed.waitUntil(
      () => {
        const text = this.latest.get(topic);
        return text !== undefined && accept(text) ? text : undefined;
      },
      { what: `${topic} to satisfy the check (latest: ${JSON.stringify(this.latest.get(topic))})`, timeoutMs },
    );
  }

  /** Publishes a command with an MQTT 5 response topic and correlation data; resolves with the parsed reply. */
  async request(topic: string, payload: string | Buffer, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const correlation = randomBytes(8);
    const from = this.messages.length;
    await this.client.publishAsync(topic, payload, { qos: 1, properties: { responseTopic: this.replyTopic, correlationData: correlation } });
    const reply = await this.waitFor((m) => m.topic === this.replyTopic && m.correlationData !== undefined && m.correlationData.equals(correlation), { what: `the reply to ${topic}`, timeoutMs: timeoutMs, from });
    return JSON.parse(reply.text) as Record<string, unknown>;
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
