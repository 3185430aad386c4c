import { describe, expect, it } from 'vitest';
import { coerceValue, DeviceDescriptionSchema, fitsKind, type ChannelDescription } from './description.js';

const boolean: ChannelDescription = { kind: 'boolean', writable: true };
const number: ChannelDescription = { kind: 'number', writable: true, min: 5, max: 30 };
const mode: ChannelDescription = { kind: 'enum', writable: true, options: ['eco', 'comfort'] };
const text: ChannelDescription = { kind: 'text', writable: true };

describe('description', () => {
  it('description - a boolean takes true/false, 1/0, "1"/"0", "on"/"off", "true"/"false" and nothing else', () => {
    for (const v of [true, 1, '1', 'on', 'ON', ' true ', 'True']) expect(coerceValue(boolean, v)).toEqual({ ok: true, value: true });
    for (const v of [false, 0, '0', 'off', 'OFF', 'false']) expect(coerceValue(boolean, v)).toEqual({ ok: true, value: false });
    for (const v of [2, 'yes', '', null, [], {}]) {
      const result = coerceValue(boolean, v);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toMatch(/^expects a boolean/);
    }
    expect(coerceValue(boolean, undefined)).toEqual({ ok: false, error: 'expects a boolean (true/false, 1/0, "on"/"off"), got nothing' });
  });

  it('description - a number takes numbers and numeric strings within its range, naming the range otherwise', () => {
    expect(coerceValue(number, 21.5)).toEqual({ ok: true, value: 21.5 });
    expect(coerceValue(number, ' 7 ')).toEqual({ ok: true, value: 7 });
    expect(coerceValue(number, '1e1')).toEqual({ ok: true, value: 10 });
    expect(coerceValue(number, 31)).toEqual({ ok: false, error: 'expects a number from 5 to 30, got 31' });
    expect(coerceValue(number, '4')).toEqual({ ok: false, error: 'expects a number from 5 to 30, got 4' });
    expect(coerceValue(number, 'warm')).toEqual({ ok: false, error: 'expects a number from 5 to 30, got "warm"' });
    expect(coerceValue(number, '0x10').ok).toBe(false);
    expect(coerceValue(number, true).ok).toBe(false);
    expect(coerceValue({ kind: 'number', writable: true }, 1e300)).toEqual({ ok: true, value: 1e300 });
  });

  it('description - an enum takes one of its values, naming the list otherwise; text takes strings', () => {
    expect(coerceValue(mode, 'eco')).toEqual({ ok: true, value: 'eco' });
    expect(coerceValue(mode, 'turbo')).toEqual({ ok: false, error: 'expects one of "eco", "comfort", got "turbo"' });
    expect(coerceValue(text, 'hello')).toEqual({ ok: true, value: 'hello' });
    expect(coerceValue(text, 3).ok).toBe(false);
    expect(coerceValue({ kind: 'json', writable: true }, { a: [1] })).toEqual({ ok: true, value: { a: [1] } });
  });

  it('description - an error quotes a huge value cut short, never in full', () => {
    const result = coerceValue(boolean, 'x'.repeat(1_000_000));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.length).toBeLessThan(200);
  });

  it('description - readings must fit their kind; ranges are not enforced on facts; null fits all', () => {
    expect(fitsKind(number, 99)).toBe(true);
    expect(fitsKind(number, '21')).toBe(false);
    expect(fitsKind(boolean, 1)).toBe(false);
    expect(fitsKind(mode, 'turbo')).toBe(false);
    expect(fitsKind(mode, null)).toBe(true);
  });

  it('description - the schema refuses inconsistent channels, naming each problem', () => {
    const result = DeviceDescriptionSchema.safeParse({
      name: 'x',
      channels: {
        a: { kind: 'enum' },
        b: { kind: 'boolean', min: 1 },
        c: { kind: 'number', min: 5, max: 1 },
        d: { kind: 'weird' },
        e: { kind: 'text', stateClass: 'measurement' },
        f: { kind: 'number', colour: 'red' },
      },
    });
    expect(result.success).toBe(false);
    const paths = result.error?.issues.map((i) => i.path.join('.')).sort();
    expect(paths).toEqual(['channels.a.options', 'channels.b.kind', 'channels.c.min', 'channels.d.kind', 'channels.e.stateClass', 'channels.f']);
    const ok = DeviceDescriptionSchema.parse({ name: 'x', channels: { t: { kind: 'number', unit: '°C' } } });
    expect(ok.channels.t?.writable).toBe(false);
  });
});
