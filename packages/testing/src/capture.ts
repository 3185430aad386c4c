import type { Counter, Logger, MetricsSink } from '@patchbay/core';
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
}

/** A pino-compatible logger that records every line (every level enabled), and counters. */
export function captureLogger(): CapturedLogger {
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
      isLevelEnabled: () => true,
    };
  };
  const root = make({});
  return Object.assign(root, { lines, counters, changed, logger: root, counter, metrics: { counter: (name: string) => counter(name) } });
}
