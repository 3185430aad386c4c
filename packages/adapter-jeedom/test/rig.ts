import { createGateway, type CommandEvent, type Counter, type Gateway, type HostContext, type MetricsSink, type ReplyInit } from '@patchbay/core';
import { captureLogger, FakeDriver, FakeHost, Signal, type CapturedLogger } from '@patchbay/testing';
import { afterEach } from 'vitest';
import jeedom, { type JeedomAdapter } from '../src/index.js';
import type { PhpCallback } from './peer.js';

/** Counts per metric name, across endpoints. */
export class RecordingMetrics implements MetricsSink {
  readonly counts = new Map<string, number>();
  counter(name: string): Counter {
    return { inc: (amount = 1) => void this.counts.set(name, (this.counts.get(name) ?? 0) + amount) };
  }
  get(name: string): number {
    return this.counts.get(name) ?? 0;
  }
}

/** Everything log lines or errors carry, as text (errors with their message, context and cause): to look for secrets. */
export function everything(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v instanceof Error && !('toJSON' in v) ? { ...v, message: v.message, cause: v.cause } : v));
}

export const APIKEY = 'Q2xhdWRlMTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6QUJDREVGRw';

/** A gateway with one fake device (`dev1`) and the Jeedom adapter under test (host `jeedom`). */
export interface Rig {
  gateway: Gateway;
  driver: FakeDriver;
  other: FakeHost;
  logger: CapturedLogger;
  metrics: RecordingMetrics;
  /** Commands the driver received, with a signal to await them. */
  commands: CommandEvent[];
  waitCommands(count: number, timeoutMs?: number): Promise<CommandEvent[]>;
  adapter(): JeedomAdapter;
  port(): number;
  stop(): Promise<void>;
}

/** Start a rig; `options` are merged over `{ socketPort: 0, apikey: APIKEY }`. */
export async function startRig(
  options: Record<string, unknown>,
  extra: {
    answer?: (c: CommandEvent) => ReplyInit | Promise<ReplyInit>;
    onCreate?: (adapter: JeedomAdapter) => void;
    /** Replace parts of the context the adapter gets (to make the core misbehave). */
    context?: Partial<HostContext> | ((ctx: HostContext) => Partial<HostContext>);
    /** Most replies that may wait for the Jeedom host (the outbox's `maxPendingReplies`). */
    maxPendingReplies?: number;
  } = {},
): Promise<Rig> {
  const driver = new FakeDriver();
  const other = new FakeHost();
  const logger = captureLogger();
  const metrics = new RecordingMetrics();
  const commands: CommandEvent[] = [];
  const arrived = new Signal();
  driver.answer = (command) => {
    commands.push(command);
    arrived.notify();
    return extra.answer ? extra.answer(command) : { ok: true, value: command.value ?? null };
  };
  let current: JeedomAdapter | undefined;
  const definition = {
    ...jeedom,
    create: (config: Parameters<typeof jeedom.create>[0], ctx: Parameters<typeof jeedom.create>[1]) => {
      const replaced = typeof extra.context === 'function' ? extra.context(ctx) : extra.context;
      const context = replaced ? new Proxy(ctx, { get: (target, key) => (replaced as Record<PropertyKey, unknown>)[key] ?? Reflect.get(target, key) }) : ctx;
      current = jeedom.create(config, context) as JeedomAdapter;
      extra.onCreate?.(current);
      return current;
    },
  };
  const gateway = createGateway({
    devices: [{ id: 'dev1', definition: driver.definition }],
    hosts: [
      { id: 'jeedom', definition, options: { socketPort: 0, apikey: APIKEY, ...options } },
      { id: 'other', definition: other.definition },
    ],
    logger,
    metrics,
    commandTimeoutMs: 2000,
    outbox: { backoff: { delays: [200, 400, 800], jitter: 0 }, ...(extra.maxPendingReplies === undefined ? {} : { maxPendingReplies: extra.maxPendingReplies }) },
  });
  await gateway.start();
  await driver.waitRunning();
  const adapter = () => {
    if (!current) throw new Error('adapter not created');
    return current;
  };
  return {
    gateway,
    driver,
    other,
    logger,
    metrics,
    commands,
    waitCommands: (count, timeoutMs = 10_000) => arrived.waitUntil(() => (commands.length >= count ? commands : undefined), { what: `${count} commands at the driver`, timeoutMs }),
    adapter,
    port: () => {
      const port = adapter().port;
      if (port === undefined) throw new Error('command socket not listening');
      return port;
    },
    stop: () => gateway.stop({ drainTimeoutMs: 300 }),
  };
}

/** The rig and callback a test starts, stopped after each test of the `describe` that calls this. */
export function rigAndPeer(): { rig: Rig | undefined; peer: PhpCallback | undefined } {
  const started: { rig: Rig | undefined; peer: PhpCallback | undefined } = { rig: undefined, peer: undefined };
  afterEach(async () => {
    await started.rig?.stop();
    await started.peer?.close();
    started.rig = undefined;
    started.peer = undefined;
  });
  return started;
}
