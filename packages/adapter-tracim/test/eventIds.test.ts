import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { captureLogger, tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { EventIds, MAX_EVENT_ID } from '../src/protocol/eventIds.js';

describe('tracim - synthesised TLM event_ids (Go SDK: a 32-bit int on armhf)', () => {
  const dirs: { remove(): void }[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) d.remove();
  });
  function file(): string {
    const dir = tempDir('pb-tracim-ids-');
    dirs.push(dir);
    return join(dir.path, 'sub', 'event-id');
  }

  it('tracim - ids are integers below 2^31 and increase, within a run and across restarts, however many a run sent', () => {
    const path = file();
    const logger = captureLogger();
    const now = Date.now();
    const first = new EventIds(path, logger, now);
    const run1 = Array.from({ length: 10_000 }, () => first.take());
    for (let i = 1; i < run1.length; i++) expect(run1[i]).toBe((run1[i - 1] as number) + 1);
    expect(Math.max(...run1)).toBeLessThanOrEqual(MAX_EVENT_ID);
    expect(Number.isInteger(run1[0])).toBe(true);
    // A restart a second later: far more ids than seconds went by, and still no id is reused.
    const second = new EventIds(path, logger, now + 1000);
    const run2 = Array.from({ length: 5 }, () => second.take());
    expect(run2[0]).toBeGreaterThan(run1[run1.length - 1] as number);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(path, '..')).mode & 0o777).toBe(0o700);
    expect(logger.find(/event_id/)).toHaveLength(0);
  });

  it('tracim - without a counter file (first start, wiped) ids follow the clock in seconds since 2026, far below 2^31', () => {
    const path = file();
    const now = Date.UTC(2026, 11, 2);
    const ids = new EventIds(path, captureLogger(), now);
    const id = ids.take();
    expect(id).toBe(Math.floor((now - Date.UTC(2026, 0, 1)) / 1000));
    expect(new EventIds(path, captureLogger(), now + 10_000).take()).toBeGreaterThan(id);
  });

  it('tracim - a corrupt counter file is one warning, and ids go on from the clock', () => {
    const path = file();
    new EventIds(path, captureLogger()).take();
    writeFileSync(path, 'garbage');
    const logger = captureLogger();
    const ids = new EventIds(path, logger);
    expect(ids.take()).toBeLessThanOrEqual(MAX_EVENT_ID);
    ids.take();
    expect(logger.find(/does not hold a number/)).toHaveLength(1);
    expect(Number(readFileSync(path, 'utf8'))).toBeGreaterThan(0);
  });

  it('tracim - at 2^31 - 1 the ids start again from 1 with one error line, never above', () => {
    const path = file();
    mkdirSync(join(path, '..'));
    writeFileSync(path, String(MAX_EVENT_ID));
    const logger = captureLogger();
    const ids = new EventIds(path, logger);
    expect(ids.take()).toBe(MAX_EVENT_ID);
    expect(ids.take()).toBe(1);
    expect(logger.find(/reached 2\^31/)).toHaveLength(1);
  });
});
