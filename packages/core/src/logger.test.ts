import { describe, expect, it } from 'vitest';
import { lazyChild, quoteForLog, type Logger } from './logger.js';

describe('quoteForLog', () => {
  it('quoteForLog - a short value is quoted whole; a huge string is cut to the limit, quoted, and its length told', () => {
    expect(quoteForLog('relay')).toBe('"relay"');
    expect(quoteForLog({ a: 1 })).toBe('{"a":1}');
    const huge = 'x\n'.repeat(10_000_000);
    const quoted = quoteForLog(huge);
    expect(quoted.startsWith('"x\\nx\\n')).toBe(true);
    expect(quoted.endsWith('… (20000002 characters)')).toBe(true);
    expect(quoted.length).toBeLessThan(120);
  });
});

describe('lazyChild', () => {
  /** A parent at `info` that counts the children it makes and keeps their lines. */
  function parent() {
    const lines: [string, Record<string, unknown>, unknown[]][] = [];
    let children = 0;
    const make = (bindings: Record<string, unknown>): Logger => {
      const at =
        (level: string) =>
        (...args: unknown[]) =>
          void lines.push([level, bindings, args]);
      return { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal'), child: (more) => (children++, make({ ...bindings, ...more })), isLevelEnabled: (level) => !['trace', 'debug'].includes(level) };
    };
    return { logger: make({}), lines, children: () => children };
  }

  it('lazyChild - makes the child on its first line, once, and writes every line as the child would', () => {
    const root = parent();
    const log = lazyChild(root.logger, { device: 'd1' });
    expect(root.children()).toBe(0);
    log.debug('left out');
    expect(root.children()).toBe(0);
    expect(log.isLevelEnabled('debug')).toBe(false);
    log.info({ a: 1 }, 'one');
    log.warn('two %s', 'x');
    expect(root.children()).toBe(1);
    expect(root.lines).toEqual([
      ['info', { device: 'd1' }, [{ a: 1 }, 'one']],
      ['warn', { device: 'd1' }, ['two %s', 'x']],
    ]);
    log.child({ part: 'p' }).error('three');
    expect(root.lines.at(-1)).toEqual(['error', { device: 'd1', part: 'p' }, ['three']]);
  });
});
