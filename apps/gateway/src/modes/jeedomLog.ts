import { writeSync } from 'node:fs';
import { pino, type Logger as PinoLogger } from 'pino';
import { redactPaths } from '../config/redact.js';

/** pino level per `--loglevel` name, as the reference maps them (protocols/jeedom.md §2.6). */
const thresholds: Record<string, string> = {
  debug: 'debug',
  info: 'info',
  notice: 'warn',
  warning: 'warn',
  error: 'error',
  critical: 'fatal',
};

/** The pino level a Jeedom `--loglevel` name selects: `none` and unknown names keep CRITICAL only. */
export function jeedomThreshold(name: string | undefined): string {
  return thresholds[(name ?? 'error').toLowerCase()] ?? 'fatal';
}

/** Jeedom's level names for pino's numeric levels. */
function levelName(level: number): string {
  if (level <= 20) return 'DEBUG';
  if (level <= 30) return 'INFO';
  if (level <= 40) return 'WARNING';
  if (level <= 50) return 'ERROR';
  return 'CRITICAL';
}

const pad = (n: number): string => (n < 10 ? '0' : '') + n;

/** `YYYY-MM-DD HH:MM:SS` in local time, no milliseconds (§2.6). */
export function jeedomTime(date: Date): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** One record as Jeedom's log viewer expects it: `[date][LEVEL] : message`. */
export function formatJeedomLine(record: { level: number; time: number; msg?: string; err?: { stack?: string } }): string {
  let line = `[${jeedomTime(new Date(record.time))}][${levelName(record.level)}] : ${record.msg ?? ''}\n`;
  // A traceback follows as continuation lines without a prefix, as Python's logging prints it.
  if (record.level <= 20 && record.err?.stack) line += record.err.stack + '\n';
  return line;
}

/**
 * The logger of Jeedom launch mode: every record as one Jeedom line on stdout, written
 * synchronously to the inherited descriptor (PHP opened the log file in append mode, so
 * the core may truncate it while we run: §2.6, §10 item 46). `secrets` (the apikey) are
 * masked in every line as a last line of defence; nothing should log them anyway.
 */
export function createJeedomLogger(options: { loglevel: string | undefined; secrets?: readonly string[]; fd?: number }): PinoLogger {
  const fd = options.fd ?? 1;
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 4);
  const destination = {
    write(chunk: string): void {
      let record: { level: number; time: number; msg?: string; err?: { stack?: string } };
      try {
        record = JSON.parse(chunk) as typeof record;
      } catch {
        return;
      }
      let line = formatJeedomLine(record);
      for (const secret of secrets) if (line.includes(secret)) line = line.split(secret).join('[redacted]');
      try {
        writeSync(fd, line);
      } catch {
        // stdout gone (log file removed): nothing else to tell.
      }
    },
  };
  return pino({ level: jeedomThreshold(options.loglevel), base: undefined, redact: { paths: redactPaths, censor: '[redacted]' } }, destination);
}
