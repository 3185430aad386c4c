import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { optionsParser } from './spec.js';

/** A schema that counts how often it runs. */
function counted<T extends z.ZodType>(schema: T) {
  const runs = { count: 0 };
  const wrapped = z.unknown().transform((v, ctx) => {
    runs.count++;
    const parsed = schema.safeParse(v);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    return z.NEVER;
  });
  return { schema: wrapped, runs };
}

describe('options parser', () => {
  it('spec - equal options are parsed once and share the outcome; different ones each have their own', () => {
    const { schema, runs } = counted(z.object({ interval: z.number().default(1000), initial: z.object({ t: z.number().default(21) }).prefault({}) }).strict());
    const parse = optionsParser();
    const first = parse(schema, { interval: 500 });
    const second = parse(schema, { interval: 500 });
    expect(second).toBe(first);
    expect(first).toMatchObject({ success: true, data: { interval: 500, initial: { t: 21 } } });
    expect(parse(schema, { interval: 250 })).toMatchObject({ success: true, data: { interval: 250 } });
    expect(runs.count).toBe(2);
    // Another parser (another validation) keeps nothing of this one.
    optionsParser()(schema, { interval: 500 });
    expect(runs.count).toBe(3);
  });

  it('spec - options that fail are parsed again each time, with their own issues', () => {
    const { schema, runs } = counted(z.object({ interval: z.number() }).strict());
    const parse = optionsParser();
    expect(parse(schema, { interval: 'x' }).success).toBe(false);
    expect(parse(schema, { interval: 'x' }).success).toBe(false);
    expect(runs.count).toBe(2);
  });

  it('spec - what JSON cannot tell apart is never taken for equal options: NaN and null, -0 and 0, an undefined value and none', () => {
    const parse = optionsParser();
    const nullable = z.object({ v: z.number().nullable() });
    expect(parse(nullable, { v: null }).success).toBe(true);
    expect(parse(nullable, { v: Number.NaN }).success).toBe(false);
    const signed = z.object({ v: z.number() });
    expect(parse(signed, { v: 0 }).data).toEqual({ v: 0 });
    expect(Object.is((parse(signed, { v: -0 }).data as { v: number } | undefined)?.v, -0)).toBe(true);
    const optional = z.object({ v: z.string().optional() }).strict();
    expect(parse(optional, {}).success).toBe(true);
    expect(parse(optional, { v: undefined }).data).toHaveProperty('v');
    const { schema, runs } = counted(z.object({ at: z.unknown() }));
    parse(schema, { at: new Date(0) });
    parse(schema, { at: new Date(0) });
    expect(runs.count).toBe(2);
  });
});
