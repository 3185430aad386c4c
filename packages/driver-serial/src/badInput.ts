import type { Counter, Logger } from '@patchbay/core';
import type { BadFrameKind } from './framing.js';

/** The counters the driver exports on `/metrics`, bound to its device by the app. */
export interface SerialCounters {
  /** Every frame that was not used, whatever the reason. */
  bad: Counter;
  /** The same, one counter per reason. */
  byKind: Record<BadFrameKind, Counter>;
  /** Good frames: states and matched replies. */
  frames: Counter;
  reconnects: Counter;
}

/** Names and help of the counters, for `/metrics` and the README. */
export const counterNames: Record<BadFrameKind | 'bad' | 'frames' | 'reconnects', { name: string; help: string }> = {
  bad: { name: 'patchbay_serial_bad_frames_total', help: 'Frames from the serial device that were dropped, whatever the reason' },
  garbage: { name: 'patchbay_serial_garbage_frames_total', help: 'Frames that were not text (invalid UTF-8, control characters)' },
  oversize: { name: 'patchbay_serial_oversize_frames_total', help: 'Frames longer than maxFrameBytes, dropped whole' },
  invalid: { name: 'patchbay_serial_invalid_frames_total', help: 'Text frames the codec could not read (invalid JSON, wrong shape)' },
  unmatched: { name: 'patchbay_serial_unmatched_replies_total', help: 'Replies with an unknown id, or with no command waiting' },
  partial: { name: 'patchbay_serial_partial_frames_total', help: 'Incomplete frames dropped when the port closed' },
  frames: { name: 'patchbay_serial_frames_total', help: 'Frames from the serial device that were used (states and replies)' },
  reconnects: { name: 'patchbay_serial_reconnects_total', help: 'Times the serial port was opened again after being lost' },
};

/** Creates the driver's counters through its context. */
export function createCounters(counter: (name: string, help: string) => Counter): SerialCounters {
  const make = (key: keyof typeof counterNames): Counter => counter(counterNames[key].name, counterNames[key].help);
  return {
    bad: make('bad'),
    byKind: { garbage: make('garbage'), oversize: make('oversize'), invalid: make('invalid'), unmatched: make('unmatched'), partial: make('partial') },
    frames: make('frames'),
    reconnects: make('reconnects'),
  };
}

/**
 * Counts every bad frame and logs it with what was wrong, but at most once per kind per
 * window: a device spewing garbage must not flood the log (the counters carry the volume).
 * The next line after a quiet window says how many were held back.
 */
export class BadInputReporter {
  private readonly lastLogged = new Map<BadFrameKind, { at: number; suppressed: number }>();

  constructor(
    private readonly options: { logger: Logger; counters: SerialCounters; path: string; windowMs?: number; now?: () => number },
  ) {}

  report(kind: BadFrameKind, detail: string): void {
    const { counters, logger } = this.options;
    counters.bad.inc();
    counters.byKind[kind].inc();
    const now = (this.options.now ?? Date.now)();
    const last = this.lastLogged.get(kind);
    if (last !== undefined && now - last.at < (this.options.windowMs ?? 10_000)) {
      last.suppressed++;
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    this.lastLogged.set(kind, { at: now, suppressed: 0 });
    const more = suppressed > 0 ? ` (${suppressed} more ${kind} frames since the last such line)` : '';
    logger.warn({ kind, path: this.options.path, suppressed }, `serial ${this.options.path}: ${kind} frame: ${detail}; kept reading${more}`);
  }
}
