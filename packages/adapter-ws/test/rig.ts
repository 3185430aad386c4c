import { createGateway, type Gateway, type HostContext } from '@patchbay/core';
import { captureLogger, FakeDriver, FakeHost, Signal, type CapturedLogger } from '@patchbay/testing';
import { WebSocket, type ClientOptions } from 'ws';
import wsAdapter, { type WsAdapter } from '../src/index.js';
import { startTestHttp, type TestHttp } from './httpMount.js';

/** A message as a client received it. */
export type Message = Record<string, unknown> & { type: string };

/** A real ws client that records every message and lets tests await one. */
export class TestClient {
  readonly messages: Message[] = [];
  private readonly changed = new Signal();
  closed: { code: number; reason: string } | undefined;

  constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.messages.push(JSON.parse(String(data)) as Message);
      this.changed.notify();
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.changed.notify();
    });
    socket.on('error', () => this.changed.notify());
  }

  /** Open a client and wait for its snapshot. */
  static async open(url: string, options: ClientOptions & { protocols?: string[] } = {}): Promise<TestClient> {
    const client = new TestClient(new WebSocket(url, options.protocols ?? [], options));
    await client.waitFor((m) => m.type === 'snapshot', 'the snapshot');
    return client;
  }

  waitFor(predicate: (m: Message) => boolean, what: string, timeoutMs = 5000): Promise<Message> {
    return this.changed.waitUntil(() => this.messages.find(predicate), { timeoutMs, what });
  }

  waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    return this.changed.waitUntil(() => this.closed, { timeoutMs, what: 'the socket to close' });
  }

  /** Wait until `count` messages match (10 s unless `timeoutMs`). */
  waitCount(predicate: (m: Message) => boolean, expected: { count: number; what: string; timeoutMs?: number }): Promise<number> {
    const { count, what, timeoutMs = 10_000 } = expected;
    return this.changed.waitUntil(
      () => {
        const n = this.messages.filter(predicate).length;
        return n >= count ? n : undefined;
      },
      { timeoutMs, what: `${count} × ${what}` },
    );
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  close(): void {
    this.socket.terminate();
  }
}

/** What the adapter logged and counted (by counter name): the shared recording logger. */
export type Recorded = CapturedLogger;

/** A gateway with one fake device `dev1`, the ws adapter as host `ws` and a fake host `other`. */
export interface Rig {
  http: TestHttp;
  gateway: Gateway;
  driver: FakeDriver;
  other: FakeHost;
  adapter(): WsAdapter;
  ctx(): HostContext;
  wsUrl: string;
  clients: TestClient[];
  recorded: Recorded;
  connect(options?: ClientOptions & { protocols?: string[]; query?: string }): Promise<TestClient>;
  stop(): Promise<void>;
}

/** How the rig is built: `context` may wrap what the adapter gets, to inject a fault into the core. */
export interface RigSetup {
  context?: (ctx: HostContext) => HostContext;
}

export async function startRig(options: Record<string, unknown> = {}, setup: RigSetup = {}): Promise<Rig> {
  const http = await startTestHttp();
  const driver = new FakeDriver();
  const other = new FakeHost();
  let adapter: WsAdapter | undefined;
  let context: HostContext | undefined;
  const spied = {
    ...wsAdapter,
    create: (config: Parameters<typeof wsAdapter.create>[0], ctx: HostContext) => {
      context = setup.context ? setup.context(ctx) : ctx;
      adapter = wsAdapter.create(config, context) as WsAdapter;
      return adapter;
    },
  };
  const recorded = captureLogger();
  const gateway = createGateway({
    logger: recorded.logger,
    metrics: recorded.metrics,
    devices: [{ id: 'dev1', definition: driver.definition }],
    hosts: [
      { id: 'ws', definition: spied, options },
      { id: 'other', definition: other.definition },
    ],
    http: http.mount,
    commandTimeoutMs: 2000,
  });
  await gateway.start();
  await driver.waitRunning();
  const clients: TestClient[] = [];
  const wsUrl = `ws://127.0.0.1:${http.port}/ws`;
  return {
    http,
    gateway,
    driver,
    other,
    wsUrl,
    clients,
    recorded,
    adapter: () => adapter as WsAdapter,
    ctx: () => context as HostContext,
    async connect(connectOptions = {}) {
      const client = await TestClient.open(wsUrl + (connectOptions.query ?? ''), connectOptions);
      clients.push(client);
      return client;
    },
    async stop() {
      for (const c of clients) c.close();
      await gateway.stop({ drainTimeoutMs: 200 });
      await http.close();
    },
  };
}

/** Send a raw upgrade request (`headers` add to or replace the defaults) and read the HTTP response head and body. */
export async function rawUpgrade(port: number, headers: Record<string, string>, path = '/ws'): Promise<{ status: number; text: string }> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0), text }));
    const all: Record<string, string> = {
      Host: `127.0.0.1:${port}`,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      ...headers,
    };
    const lines = [`GET ${path} HTTP/1.1`, ...Object.entries(all).map(([k, v]) => `${k}: ${v}`)];
    socket.write(lines.join('\r\n') + '\r\n\r\n');
  });
}
