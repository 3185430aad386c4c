import type { Counter, Logger } from '@patchbay/core';

/** One captured log line. */
export interface LogLine {
  level: string;
  message: string;
  object: Record<string, unknown>;
}

/** A pino-compatible logger that records every line, and counters that count. */
export function captureLogger(): { logger: Logger; lines: LogLine[]; counters: Map<string, number>; counter: (name: string) => Counter } {
  const lines: LogLine[] = [];
  const counters = new Map<string, number>();
  const make = (level: string) =>
    ((first: unknown, second?: unknown) => {
      if (typeof first === 'string') lines.push({ level, message: first, object: {} });
      else lines.push({ level, message: String(second ?? ''), object: (first ?? {}) as Record<string, unknown> });
    }) as Logger['info'];
  const logger: Logger = {
    trace: make('trace'),
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
    fatal: make('fatal'),
    child: () => logger,
    isLevelEnabled: () => true,
  };
  const counter = (name: string): Counter => ({ inc: (n = 1) => void counters.set(name, (counters.get(name) ?? 0) + n) });
  return { logger, lines, counters, counter };
}
