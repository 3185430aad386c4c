import type { Counter } from '@patchbay/core';
import { describe, expect, it } from 'vitest';
import { captureLogger } from '../test/helpers.js';
import { BadInputReporter, counterNames, createCounters } from './badInput.js';

describe('bad input reporting', () => {
  function reporter() {
    const counts = new Map<string, number>();
    const counter = (name: string): Counter => ({ inc: (n = 1) => counts.set(name, (counts.get(name) ?? 0) + n) });
    const logger = captureLogger();
    let now = 0;
    const r = new BadInputReporter({ logger, counters: createCounters(counter), path: '/dev/x', windowMs: 10_000, now: () => now });
    return { r, counts, logger, advance: (ms: number) => (now += ms) };
  }

  it('bad input - every frame is counted, but each kind is logged at most once per window', () => {
    const { r, counts, logger, advance } = reporter();
    for (let i = 0; i < 500; i++) r.report('invalid', `invalid JSON #${i}`);
    r.report('garbage', 'not UTF-8');
    expect(counts.get(counterNames.bad.name)).toBe(501);
    expect(counts.get(counterNames.invalid.name)).toBe(500);
    expect(counts.get(counterNames.garbage.name)).toBe(1);
    expect(logger.lines.map((l) => l.message)).toEqual([
      'serial /dev/x: invalid frame: invalid JSON #0; kept reading',
      'serial /dev/x: garbage frame: not UTF-8; kept reading',
    ]);
    advance(10_000);
    r.report('invalid', 'invalid JSON again');
    expect(logger.lines.at(-1)?.message).toBe('serial /dev/x: invalid frame: invalid JSON again; kept reading (499 more invalid frames since the last such line)');
    expect(logger.lines.at(-1)?.fields).toMatchObject({ kind: 'invalid', suppressed: 499, path: '/dev/x' });
  });
});
