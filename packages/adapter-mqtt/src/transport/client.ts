/**
 * The MQTT.js client as this adapter uses it: a persistent session (clean start off, a
 * session expiry), QoS 1, a retained last will of `offline` on the bridge state, TLS
 * material read from files or given inline, and reconnects every `reconnectMs`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describeError } from '@patchbay/core';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/** What the client is built from. */
export interface ClientOptions {
  url: string;
  clientId: string;
  protocolVersion: 4 | 5;
  sessionExpirySeconds: number;
  keepaliveSeconds: number;
  reconnectMs: number;
  username?: string;
  password?: string;
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean };
  /** The last will: published retained by the broker when the gateway vanishes. */
  will: { topic: string; payload: string };
}

/** What a config of ours says about the broker session and its credentials, as {@link ClientOptions} takes it. */
export type BrokerSettings = Pick<ClientOptions, 'sessionExpirySeconds' | 'keepaliveSeconds' | 'reconnectMs' | 'username' | 'password' | 'tls'>;

/** The broker settings of a config (the MQTT host's, the cluster's): the same keys in both. */
export function brokerSettings(config: BrokerSettings): BrokerSettings {
  const { sessionExpirySeconds, keepaliveSeconds, reconnectMs, username, password, tls } = config;
  return { sessionExpirySeconds, keepaliveSeconds, reconnectMs, username, password, tls };
}

/** A PEM given inline, or the contents of the file it names. */
function readPem(value: string): string {
  return value.includes('-----BEGIN') || !existsSync(value) ? value : readFileSync(value, 'utf8');
}

/** `mqtt://user:secret@host` → `mqtt://host`: a URL that may be logged. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^@/]*@/i, '$1');
}

/** Builds MQTT.js's options (exported for tests: the will, the session, the credentials). */
export function clientOptions(options: ClientOptions): IClientOptions {
  const built: IClientOptions = {
    clientId: options.clientId,
    protocolVersion: options.protocolVersion,
    clean: false,
    keepalive: options.keepaliveSeconds,
    reconnectPeriod: options.reconnectMs,
    connectTimeout: 10_000,
    // Subscriptions are made again on every connect by the adapter itself.
    resubscribe: false,
    // A broker that refuses us (bad password) is tried again: it may be reconfigured.
    reconnectOnConnackError: true,
    will: { topic: options.will.topic, payload: Buffer.from(options.will.payload), qos: 1, retain: true },
    // Otherwise mqtt-packet builds 65,536 two-byte Buffers for packet ids on the first write:
    // 6.3 MB of the gateway's idle heap, for ids it allocates in nanoseconds when needed.
    writeCache: false,
  };
  if (options.protocolVersion === 5) built.properties = { sessionExpiryInterval: options.sessionExpirySeconds };
  if (options.username !== undefined) built.username = options.username;
  if (options.password !== undefined) built.password = options.password;
  if (options.tls) {
    if (options.tls.ca !== undefined) built.ca = readPem(options.tls.ca);
    if (options.tls.cert !== undefined) built.cert = readPem(options.tls.cert);
    if (options.tls.key !== undefined) built.key = readPem(options.tls.key);
    built.rejectUnauthorized = options.tls.rejectUnauthorized;
  }
  return built;
}

/** Opens the client (it connects and reconnects by itself). */
export function openClient(options: ClientOptions): MqttClient {
  // The URL may carry credentials: MQTT.js takes them from it; nothing here logs it.
  return mqtt.connect(options.url, clientOptions(options));
}

/**
 * What every client of ours does on its events: Nagle's algorithm off on each connection
 * (commands and replies are small packets, which it and the peer's delayed ACK would hold
 * for tens of milliseconds), then `onConnect`; each error reported once until a different
 * one comes (a broker that stays down is one line, not one per retry).
 */
export function wireClient(client: MqttClient, options: { onConnect: () => void; onError: (reason: string) => void }): void {
  client.on('connect', () => {
    (client.stream as { setNoDelay?: (noDelay: boolean) => void } | undefined)?.setNoDelay?.(true);
    options.onConnect();
  });
  let lastError: string | undefined;
  client.on('error', (error) => {
    // Errors carry no credentials (MQTT.js reports the broker's refusal code or the socket's error).
    const reason = describeError(error);
    if (reason !== lastError) options.onError(reason);
    lastError = reason;
  });
}

/**
 * Waits for the first of: `ready()` (the caller set the connection up), the client's first
 * close, or `signal` aborting. A broker that is down at start is not a failed start: the
 * client keeps reconnecting, and the caller's outbox holds what it would have sent.
 */
export function untilFirstConnect(client: MqttClient, signal: AbortSignal): { ready: () => void; settled: Promise<void> } {
  let ready: () => void = () => undefined;
  const settled = new Promise<void>((resolve) => {
    const done = () => {
      client.off('close', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    ready = done;
    client.once('close', done);
    signal.addEventListener('abort', done, { once: true });
  });
  return { ready, settled };
}

export type { MqttClient };
