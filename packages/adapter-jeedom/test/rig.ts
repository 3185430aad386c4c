import { createGateway, type CommandEvent, type Counter, type Gateway, type Logger, type MetricsSink, type ReplyInit } from '@patchbay/core';
import { FakeDriver, FakeHost, Signal } from '@patchbay/testing';
import jeedom, { type JeedomAdapter } from '../src/index.js';

/** One logged line, as the tests check them. */
export interface LogLine {
  level: string;
  msg: string;
}

/** A pino-shaped logger that keeps every line (and wakes waiters). */
export class RecordingLogger implements Logger {
  readonly lines: LogLine[] = [];
  readonly changed = new Signal();
  constructor(private readonly shared?: RecordingLogger) {}
  private log(level: string) {
    return (first: unknown, second?: unknown): void => {
      const msg = typeof first === 'string' ? first : typeof second === 'string' ? second : '';
      const target = this.shared ?? this;
      target.lines.push({ level, msg });
      target.changed.notify();
    };
  }
  trace = this.log('trace');
  debug = this.log('debug');
  info = this.log('info');
  warn = this.log('warn');
  error = this.log('error');
  fatal = this.log('fatal');
  child(): Logger {
    return new RecordingLogger(this.shared ?? this);
  }
  isLevelEnabled(): boolean {
    return true;
  }
  /** Lines at `level` matching `pattern`. */
  find(level: string, pattern: RegExp): LogLine[] {
    return this.lines.filter((l) => l.level === level && pattern.test(l.msg));
  }
  /** Wait for a line at `level` matching `pattern`. */
  waitFor(level: string, pattern: RegExp, timeoutMs = 10_000): Promise<LogLine> {
    return this.changed.waitUntil(() => this.lines.find((l) => l.level === level && pattern.test(l.msg)), { what: `a ${level} log line matching ${pattern}`, timeoutMs });
  }
}

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

export const APIKEY = 'Q2xhdWRlMTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6QUJDREVGRw';

/** A gateway with one fake device (`dev1`) and the Jeedom adapter under test (host `jeedom`). */
export interface Rig {
  gateway: Gateway;
  driver: FakeDriver;
  other: FakeHost;
  logger: RecordingLogger;
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
  extra: { answer?: (c: CommandEvent) => ReplyInit | Promise<ReplyInit>; onCreate?: (adapter: JeedomAdapter) => void } = {},
): Promise<Rig> {
  const driver = new FakeDriver();
  const other = new FakeHost();
  const logger = new RecordingLogger();
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
      current = jeedom.create(config, ctx) as JeedomAdapter;
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
    outbox: { backoff: { delays: [200, 400, 800], jitter: 0 } },
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
