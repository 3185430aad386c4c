import type { Counter, Logger, MetricsSink } from '@patchbay/core';

/** A MetricsSink that keeps counts in memory, read back by name and endpoint. */
export class MemoryMetrics implements MetricsSink {
  private readonly values = new Map<string, number>();

  counter(name: string, _help: string, labels: Readonly<Record<string, string>>): Counter {
    const key = `${name}{${labels.endpoint ?? ''}}`;
    if (!this.values.has(key)) this.values.set(key, 0);
    return { inc: (amount = 1) => this.values.set(key, (this.values.get(key) ?? 0) + amount) };
  }

  get(name: string, endpoint: string): number {
    return this.values.get(`${name}{${endpoint}}`) ?? 0;
  }
}

/** One captured log call. */
export interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

/** A pino-shaped logger that records what it is given (every level enabled). */
export function captureLogger(lines: LogLine[] = [], bindings: Record<string, unknown> = {}): Logger & { lines: LogLine[] } {
  const at =
    (level: string) =>
    (first: unknown, ...rest: unknown[]): void => {
      const message = typeof first === 'string' ? first : typeof rest[0] === 'string' ? rest[0] : '';
      const fields = typeof first === 'object' && first !== null ? (first as Record<string, unknown>) : {};
      lines.push({ level, message, fields: { ...bindings, ...fields } });
    };
  return {
    lines,
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: (more) => captureLogger(lines, { ...bindings, ...more }),
    isLevelEnabled: () => true,
  };
}

/** A seeded random source (mulberry32), so a failing run can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
