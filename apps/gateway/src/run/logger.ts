import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { PrettyOptions, PrettyStream } from 'pino-pretty';
import { redactPaths } from '../config/redact.js';

/** Builds the app's root logger: JSON by default, pretty on a terminal, secrets redacted. */
export function createLogger(options: { level: string; format: 'auto' | 'json' | 'pretty'; destination?: DestinationStream }): PinoLogger {
  const prettyOutput = options.format === 'pretty' || (options.format === 'auto' && process.stdout.isTTY === true && !options.destination);
  const base = { level: options.level, redact: { paths: redactPaths, censor: '[redacted]' } };
  if (prettyOutput) {
    // In-process and synchronous: a terminal's logs are few, and a transport would run a worker
    // thread (a second V8 isolate, +12 MB RSS) just to colour them.
    // Loaded only for a terminal: JSON output (services, containers) never pays for it.
    const pretty = createRequire(import.meta.url)('pino-pretty') as (options: PrettyOptions) => PrettyStream;
    return pino(base, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true }));
  }
  return options.destination ? pino(base, options.destination) : pino(base);
}
