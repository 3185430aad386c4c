import { describe, expect, it } from 'vitest';
import { domogikConfig } from '../config.js';
import { categoryOf, configValue, decodeObject, encodeJson, FrameError, jsonTooDeep, MAX_JSON_DEPTH, messageId, parseTimeoutFrame, sanitizeHostname } from './wire.js';

describe('domogik protocol', () => {
  it('domogik - §11.3 message ids match <category>.<digits>_<digits>.0_1 and strip back to the category', () => {
    for (const category of ['plugin.status', 'client.sensor', 'device.new']) {
      const id = messageId(category, 1_700_000_000_123.456);
      expect(id).toMatch(new RegExp(`^${category.replace('.', '\\.')}\\.[0-9]+_[0-9]+\\.0_1$`));
      expect(categoryOf(id)).toBe(category);
    }
    expect(messageId('plugin.status', 1_700_000_000_123)).toBe('plugin.status.1700000000_123000.0_1');
    expect(categoryOf('a.b')).toBeUndefined();
  });

  it('domogik - §11.8 published JSON never holds NaN or Infinity', () => {
    const text = encodeJson({ a: Number.NaN, b: Number.POSITIVE_INFINITY, c: 1.5, d: 'é' });
    expect(text).toBe('{"a":null,"b":null,"c":1.5,"d":"é"}');
    expect(() => JSON.parse(text)).not.toThrow();
  });

  it('domogik - incoming JSON deeper than 64 levels is refused before parsing; brackets inside strings do not count', () => {
    const nest = (depth: number) => Buffer.from(`${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`);
    expect(MAX_JSON_DEPTH).toBe(64);
    expect(jsonTooDeep(nest(64))).toBe(false);
    expect(jsonTooDeep(nest(65))).toBe(true);
    expect(decodeObject(nest(64), 'x')).toBeTypeOf('object');
    expect(() => decodeObject(nest(65), 'request helper.do')).toThrow(FrameError);
    expect(() => decodeObject(nest(65), 'request helper.do')).toThrow(/^request helper\.do: JSON nested deeper than 64 levels/);
    // Brackets in strings, an escaped quote and multi-byte UTF-8 around them: one level only.
    const text = Buffer.from(JSON.stringify({ s: `${'['.repeat(100)}"é✓\\${'{'.repeat(100)}` }));
    expect(jsonTooDeep(text)).toBe(false);
    expect(decodeObject(text, 'x')).toEqual(JSON.parse(text.toString()));
  });

  it('domogik - §11.23 host is the sanitized hostname: lower case, cut at the first dot, no "-", at most 16 characters', () => {
    expect(sanitizeHostname('Dark-Star.lan')).toBe('darkstar');
    expect(sanitizeHostname('A-Very-Long-Host-Name-Here.example.org')).toBe('averylonghostnam');
    expect(sanitizeHostname()).toMatch(/^[a-z0-9_]{0,16}$/);
  });

  it('domogik - §11.27 config values: "None"/"" unset, "True"/"Y"/true true, "False"/"N"/false false', () => {
    expect([configValue('None'), configValue(''), configValue(null)]).toEqual([undefined, undefined, undefined]);
    expect([configValue('True'), configValue('Y'), configValue(true)]).toEqual([true, true, true]);
    expect([configValue('False'), configValue('N'), configValue(false)]).toEqual([false, false, false]);
    expect(configValue('42')).toBe('42');
  });

  it('domogik - the broker strips a timeout frame only when Python float() would parse it (§5.2)', () => {
    expect(parseTimeoutFrame(Buffer.from('10'))).toEqual({ strip: true, seconds: 10 });
    expect(parseTimeoutFrame(Buffer.from('10.0'))).toEqual({ strip: true, seconds: 10 });
    expect(parseTimeoutFrame(Buffer.from('nan'))).toEqual({ strip: true, seconds: undefined });
    expect(parseTimeoutFrame(Buffer.from('None'))).toEqual({ strip: false, seconds: undefined });
    expect(parseTimeoutFrame(Buffer.from('config.get'))).toEqual({ strip: false, seconds: undefined });
  });

  it('domogik - §11.34 §11.7 §11.26 ip, ports, name, host and config service are configurable with Domogik defaults', () => {
    const config = domogikConfig.parse({});
    expect(config).toMatchObject({ ip: '127.0.0.1', reqRepPort: 40410, pubPort: 40411, subPort: 40412, name: 'patchbay', configService: 'admin', statusIntervalMs: 15_000 });
    expect(config.joinDelayMs).toBeGreaterThanOrEqual(200);
    expect(domogikConfig.safeParse({ joinDelayMs: 100 }).success).toBe(false);
    expect(domogikConfig.safeParse({ statusIntervalMs: 20_000 }).success).toBe(false);
    const custom = domogikConfig.parse({ ip: '10.0.0.2', reqRepPort: 1, pubPort: 2, subPort: 3, name: 'gw', host: 'darkstar', configService: 'dbmgr' });
    expect(custom).toMatchObject({ ip: '10.0.0.2', reqRepPort: 1, pubPort: 2, subPort: 3, name: 'gw', host: 'darkstar', configService: 'dbmgr' });
    const bad = domogikConfig.safeParse({ host: 'Dark-Star', sensors: { nodot: 1 } });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(['host', 'sensors.nodot']);
  });
});
