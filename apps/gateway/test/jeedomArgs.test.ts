import { describe, expect, it } from 'vitest';
import { parseJeedomArgs } from '../src/modes/jeedom.js';
import { formatJeedomLine, jeedomThreshold } from '../src/modes/jeedomLog.js';

/** Unit level of the launch-mode command line and log format; launch.test.ts runs the real process. */
describe('jeedom - launch mode command line and log format', () => {
  const options = ['loglevel', 'socketport', 'sockethost', 'callback', 'apikey', 'pid', 'cycle', 'device'] as const;

  it('jeedom - §10.1 every option is read alike as --name value and --name=value', () => {
    for (const name of options) {
      const value = name === 'callback' ? 'http://127.0.0.1:80/plugins/x/core/php/jeeX.php' : `v-${name}`;
      expect(parseJeedomArgs([`--${name}`, value]).values[name]).toBe(value);
      expect(parseJeedomArgs([`--${name}=${value}`]).values[name]).toBe(value);
    }
  });

  it('jeedom - §10.2 --pidfile is --pid; the last occurrence wins; unambiguous prefixes are accepted', () => {
    expect(parseJeedomArgs(['--pidfile', '/tmp/a.pid']).values.pid).toBe('/tmp/a.pid');
    expect(parseJeedomArgs(['--socketport', '1', '--socketport=2', '--socketport', '3']).values.socketport).toBe('3');
    expect(parseJeedomArgs(['--call', 'http://h/x']).values.callback).toBe('http://h/x');
  });

  it('jeedom - §10.3 values with spaces, "=" and a leading "-" arrive intact', () => {
    const parsed = parseJeedomArgs(['--device', '/dev/serial/by-id/a b=c', '--apikey=k=v', '--cycle', '-1']);
    expect(parsed.values).toMatchObject({ device: '/dev/serial/by-id/a b=c', apikey: 'k=v', cycle: '-1' });
  });

  it('jeedom - §10.4 unknown options, with or without a value, are collected by name and skipped', () => {
    const parsed = parseJeedomArgs(['--user', 'admin', '--pswd', 'a b=c', '--flag', '--socketport', '55009', '--x=1']);
    expect(parsed.unknown).toEqual(['--user', '--pswd', '--flag', '--x']);
    expect(parsed.values.socketport).toBe('55009');
    expect(JSON.stringify(parsed)).not.toContain('a b=c');
  });

  it('jeedom - §10.7 --loglevel names map to thresholds as the reference does', () => {
    expect(['debug', 'info', 'notice', 'warning', 'error', 'critical', 'none', 'alert', 'bogus', undefined].map(jeedomThreshold)).toEqual([
      'debug',
      'info',
      'warn',
      'warn',
      'error',
      'fatal',
      'fatal',
      'fatal',
      'fatal',
      'error',
    ]);
  });

  it('jeedom - §10.44 a record is [YYYY-MM-DD HH:MM:SS][LEVEL] : message in local time', () => {
    const time = new Date(2026, 10, 22, 0, 28, 51, 999).getTime();
    expect(formatJeedomLine({ level: 30, time, msg: 'Start demond' })).toBe('[2026-11-22 00:28:51][INFO] : Start demond\n');
    expect([20, 30, 40, 50, 60].map((level) => /^\[[^\]]+\]\[(\w+)\] : x\n$/.exec(formatJeedomLine({ level, time, msg: 'x' }))?.[1])).toEqual(['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL']);
  });
});
