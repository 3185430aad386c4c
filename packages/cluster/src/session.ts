import { randomBytes } from 'node:crypto';
import { redactUrl } from '@patchbay/adapter-mqtt/internal';
import { describeError, ErrorCodes, PatchbayError, type HostContext } from '@patchbay/core';
import type { IPublishPacket, MqttClient } from 'mqtt';
import type { ClusterConfig } from './config.js';
import { ClusterTopics } from './protocol/topics.js';

/** One publication: its topic, body and retain flag, with MQTT 5 properties when it needs them. */
export interface Publication {
  topic: string;
  payload: string | Buffer;
  retain: boolean;
  properties?: IPublishPacket['properties'];
}

/** A delivery failure the core retries: the broker cannot be reached or refused the publication. */
export function unreachable(message: string): PatchbayError {
  return new PatchbayError(ErrorCodes.HOST_UNREACHABLE, message);
}

/**
 * What every part of the cluster link shares: the config and host context, the topics, this
 * run's boot id, the broker client with whether it is ready (subscribed, synced, online), and
 * the warnings already logged (each once).
 */
export class LinkSession {
  readonly topics: ClusterTopics;
  /** This run's id, in our retained status: a new one tells the others we restarted. */
  readonly boot = randomBytes(8).toString('hex');
  client: MqttClient | undefined;
  /** Connected, subscribed, synced with what the broker kept, and announced online. */
  ready = false;
  private readonly warned = new Set<string>();

  constructor(
    readonly config: ClusterConfig & { gateway: string },
    readonly ctx: HostContext,
  ) {
    this.topics = new ClusterTopics(config.name, config.gateway);
  }

  /** The broker's URL without credentials, for log lines and `/healthz`. */
  get broker(): string {
    return redactUrl(this.config.url);
  }

  /** Publishes at QoS 1; rejects with `HOST_UNREACHABLE` when the broker does not take it. */
  publish(client: MqttClient, { topic, payload, retain, properties }: Publication): Promise<void> {
    return new Promise((resolve, reject) => {
      client.publish(topic, payload, { qos: 1, retain, properties }, (error) => (error ? reject(unreachable(`publish to ${topic} failed: ${describeError(error)}`)) : resolve()));
    });
  }

  /** True the first time `key` is asked about: what it concerns is logged once. */
  firstTime(key: string): boolean {
    if (this.warned.has(key)) return false;
    this.warned.add(key);
    return true;
  }

  warnOnce(key: string, line: string): void {
    if (this.firstTime(key)) this.ctx.logger.warn(line);
  }
}
