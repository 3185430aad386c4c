import { describe, expect, it } from 'vitest';
import { quoteForLog } from './logger.js';

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
