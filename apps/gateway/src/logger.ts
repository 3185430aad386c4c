import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { redactPaths } from './config.js';

/** Builds the app's root logger: JSON by default, pretty on a terminal, secrets redacted. */
export function createLogger(options: { level: string; format: 'auto' | 'json' | 'pretty'; destination?: DestinationStream }): PinoLogger {
  const pretty = options.format === 'pretty' || (options.format === 'auto' && process.stdout.isTTY === true && !options.destination);
  const base = { level: options.level, redact: { paths: redactPaths, censor: '[redacted]' } };
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  return options.destination ? pino(base, options.destination) : pino(base);
}
