import { afterEach, describe, expect, it, vi } from 'vitest';
import { DropLog } from './dropLog.js';

describe('tracim - drop lines', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('tracim - the first drop is told at once, then one line an interval with how many more, until the drops stop', () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const log = new DropLog((line) => lines.push(line), 10_000);
    log.dropped(1, 'queue full (10 messages): dropped the oldest (a)');
    for (let i = 0; i < 4_999; i++) log.dropped(1, `queue full (10 messages): dropped the oldest (m${i})`);
    expect(lines).toEqual(['queue full (10 messages): dropped the oldest (a)']);
    vi.advanceTimersByTime(10_000);
    expect(lines.at(-1)).toBe('4999 more dropped in the last 10 s (the last: queue full (10 messages): dropped the oldest (m4998))');
    log.dropped(2, 'not delivered: ENOENT');
    vi.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(3);
    expect(lines.at(-1)).toBe('2 more dropped in the last 10 s (the last: not delivered: ENOENT)');
    // A quiet interval ends the episode: the next drop is told at once.
    vi.advanceTimersByTime(30_000);
    expect(lines).toHaveLength(3);
    log.dropped(1, 'again');
    expect(lines.at(-1)).toBe('again');
  });

  it('tracim - close tells what is untold, and nothing comes after it', () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const log = new DropLog((line) => lines.push(line), 10_000);
    log.dropped(3, 'first');
    log.dropped(1, 'second');
    log.close();
    expect(lines).toEqual(['3 messages: first', '1 more dropped in the last 10 s (the last: second)']);
    vi.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(2);
  });
});
