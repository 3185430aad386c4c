/** The logging surface the core and its plugins use: pino's, so the app can hand in pino children. */
export interface LogFn {
  (object: object, message?: string, ...args: unknown[]): void;
  (message: string, ...args: unknown[]): void;
}

/** A pino-compatible logger. Libraries take one; they never build one. */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): Logger;
  isLevelEnabled(level: string): boolean;
}

const noop = (): void => undefined;

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * `parent.child(bindings)`, made when it first writes a line: every device had a pino child at
 * start-up (10,000 sets of bindings serialised) for the lines most of them never write. A line
 * at a level the parent leaves out is dropped without making it, as the child would drop it.
 */
class LazyChild implements Logger {
  private made: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Record<string, unknown>,
  ) {}

  // Methods, not arrow fields: six closures per device would cost much of what this saves.
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }

  child(bindings: Record<string, unknown>): Logger {
    return this.logger().child(bindings);
  }

  isLevelEnabled(level: string): boolean {
    return (this.made ?? this.parent).isLevelEnabled(level);
  }

  private logger(): Logger {
    return (this.made ??= this.parent.child(this.bindings));
  }

  private write(level: Level, args: unknown[]): void {
    if (this.made === undefined && !this.parent.isLevelEnabled(level)) return;
    (this.logger()[level] as (...a: unknown[]) => void)(...args);
  }
}

/** A child of `parent` with `bindings`, made only once it is used (see {@link LazyChild}). */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  return new LazyChild(parent, bindings);
}

/** A logger that drops everything: the default where none is handed in. */
export const silentLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  fatal: noop,
  child: () => silentLogger,
  isLevelEnabled: () => false,
};

/**
 * A value from a peer as JSON for a log line, cut to `limit` characters with its full length
 * said: what a peer sends can be megabytes, and a log line should still be one line to read.
 */
export function quoteForLog(value: unknown, limit = 80): string {
  // A peer's 20 MB string is cut before it is quoted, not after (JSON.stringify of it all took
  // ~60 ms of everyone's event loop); the length told is the quoted one (escapes aside), as for other values.
  if (typeof value === 'string' && value.length > 2 * limit) {
    const head = JSON.stringify(value.slice(0, limit)).slice(0, limit);
    return `${head}… (${value.length + 2} characters)`;
  }
  const text = JSON.stringify(value ?? null) ?? String(value);
  return text.length <= limit ? text : `${text.slice(0, limit)}… (${text.length} characters)`;
}
