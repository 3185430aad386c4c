import type { Counter, Logger } from '@patchbay/core';
import type { BadInputKind } from './frames.js';

/** Names and help of the driver's counters, for `/metrics` and the README. */
export const counterNames: Record<BadInputKind | 'bad' | 'reads' | 'timeouts' | 'exceptions' | 'reconnects', { name: string; help: string }> = {
  bad: { name: 'patchbay_modbus_bad_input_total', help: 'Replies or bytes from the line that were not used, whatever the reason' },
  garbage: { name: 'patchbay_modbus_garbage_total', help: 'Bytes that cannot start the reply awaited (noise, wrong baud rate)' },
  crc: { name: 'patchbay_modbus_crc_errors_total', help: 'RTU replies whose CRC did not match' },
  wrongUnit: { name: 'patchbay_modbus_wrong_unit_total', help: 'Replies from another unit id than the one asked' },
  short: { name: 'patchbay_modbus_short_replies_total', help: 'Replies with fewer (or more) bytes than the request asked for' },
  unmatched: { name: 'patchbay_modbus_unmatched_total', help: 'Bytes with no request waiting (late or unsolicited replies)' },
  invalid: { name: 'patchbay_modbus_invalid_values_total', help: 'Registers that decode to no value of their channel (NaN, a raw value outside the enum)' },
  reads: { name: 'patchbay_modbus_reads_total', help: 'Read requests answered' },
  timeouts: { name: 'patchbay_modbus_timeouts_total', help: 'Requests the slave did not answer in time' },
  exceptions: { name: 'patchbay_modbus_exceptions_total', help: 'Modbus exception replies' },
  reconnects: { name: 'patchbay_modbus_reconnects_total', help: 'Times the connection was opened again after being lost' },
};

/** The driver's counters. */
export type ModbusCounters = Record<keyof typeof counterNames, Counter>;

/** Creates the counters through the driver's context. */
export function createCounters(counter: (name: string, help: string) => Counter): ModbusCounters {
  return Object.fromEntries(Object.entries(counterNames).map(([key, { name, help }]) => [key, counter(name, help)])) as ModbusCounters;
}

/**
 * Counts bad input and logs it with what was wrong, at most once per kind per window, so a
 * noisy line cannot flood the log (the counters carry the volume). The next line after a
 * quiet window says how many were held back.
 */
export class BadInputReporter {
  private readonly lastLogged = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly options: { logger: Logger; counters: ModbusCounters; label: string; windowMs?: number }) {}

  report(kind: BadInputKind, detail: string): void {
    this.options.counters.bad.inc();
    this.options.counters[kind].inc();
    this.once(kind, `modbus ${this.options.label}: ${kind} input: ${detail}; dropped`, { kind });
  }

  /** Logs a warning once per key per window (also used for failing reads). */
  once(key: string, message: string, fields: Record<string, unknown> = {}): void {
    const now = Date.now();
    const last = this.lastLogged.get(key);
    if (last !== undefined && now - last.at < (this.options.windowMs ?? 10_000)) {
      last.suppressed++;
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    this.lastLogged.set(key, { at: now, suppressed: 0 });
    this.options.logger.warn({ ...fields, bus: this.options.label, suppressed }, suppressed > 0 ? `${message} (${suppressed} more since the last such line)` : message);
  }
}
