import type { Counter, Logger, MetricsSink } from '../index.js';
import { Signal } from './signal.js';

/** One captured log line: its level, its message, and its fields (child bindings included). */
export interface CapturedLine {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps every line, with counters that count, for tests to inspect and await. */
export interface CapturedLogger extends Logger {
  /** Every line, in order, from this logger and its children. */
  readonly lines: CapturedLine[];
  /** Counter totals by name, from `counter()` and `metrics`. */
  readonly counters: Map<string, number>;
  /** Notified on every line and every count: await with `changed.waitUntil`. */
  readonly changed: Signal;
  /** The logger itself, for call sites that take `{ logger }`. */
  readonly logger: Logger;
  /** A counter adding into `counters` under `name`. */
  counter(name: string): Counter;
  /** A metrics sink adding into `counters` by counter name (labels ignored). */
  readonly metrics: MetricsSink;
  /** Lines whose message matches `pattern`, in order; only those at `level` when given. */
  find(pattern: RegExp, level?: string): CapturedLine[];
  /**
   * The first line whose message matches `pattern` (at `level` when given), awaited on `changed`:
   * resolves at once if it is already there, rejects after `timeoutMs` (default 10 000 ms).
   */
  waitFor(pattern: RegExp, options?: { level?: string; timeoutMs?: number }): Promise<CapturedLine>;
}

/** Options of {@link captureLogger}. */
export interface CaptureLoggerOptions {
  /**
   * What `isLevelEnabled` answers: `'all'` (the default) says every level is enabled; `'info'` says
   * debug and trace are not (as a pino logger at level info would). Every line is recorded either way.
   */
  levels?: 'all' | 'info';
}

/** A pino-compatible logger that records every line, and counters. */
export function captureLogger(options: CaptureLoggerOptions = {}): CapturedLogger {
  const levels = options.levels ?? 'all';
  const isLevelEnabled = (level: string): boolean => levels === 'all' || (level !== 'debug' && level !== 'trace');
  const lines: CapturedLine[] = [];
  const counters = new Map<string, number>();
  const changed = new Signal();
  const counter = (name: string): Counter => ({
    inc: (amount = 1) => {
      counters.set(name, (counters.get(name) ?? 0) + amount);
      changed.notify();
    },
  });
  const make = (bindings: Record<string, unknown>): Logger => {
    const at =
      (level: string) =>
      (first: unknown, ...rest: unknown[]): void => {
        const message = typeof first === 'string' ? first : typeof rest[0] === 'string' ? rest[0] : '';
        const fields = typeof first === 'object' && first !== null ? (first as Record<string, unknown>) : {};
        lines.push({ level, message, fields: { ...bindings, ...fields } });
        changed.notify();
      };
    return {
      trace: at('trace'),
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      fatal: at('fatal'),
      child: (more) => make({ ...bindings, ...more }),
      isLevelEnabled,
    };
  };
  const find = (pattern: RegExp, level?: string): CapturedLine[] => lines.filter((line) => (level === undefined || line.level === level) && pattern.test(line.message));
  const waitFor = (pattern: RegExp, wait: { level?: string; timeoutMs?: number } = {}): Promise<CapturedLine> =>
    changed.waitUntil(() => find(pattern, wait.level)[0], {
      what: `a log line matching ${String(pattern)} ${wait.level === undefined ? 'at any level' : `at level ${wait.level}`}`,
      timeoutMs: wait.timeoutMs ?? 30_000,
    });
  const root = make({});
  return Object.assign(root, { lines, counters, changed, logger: root, counter, metrics: { counter: (name: string) => counter(name) }, find, waitFor });
}
