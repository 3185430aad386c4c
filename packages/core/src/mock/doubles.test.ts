import { createGateway, ErrorCodes } from '../index.js';
import { describe, expect, it } from 'vitest';
import { captureLogger } from './capture.js';
import { FakeDriver } from './fakeDriver.js';
import { FakeHost } from './fakeHost.js';
import { Signal } from './signal.js';

describe('test doubles', () => {
  it('signal - resolves when a notify makes the condition true, never before', async () => {
    const signal = new Signal();
    const box: { value?: number } = {};
    const waiting = signal.waitUntil(() => box.value, { what: 'a value' });
    box.value = 3;
    signal.notify();
    await expect(waiting).resolves.toBe(3);
  });

  it('signal - rejects after the timeout, naming what it waited for', async () => {
    const signal = new Signal();
    await expect(signal.waitUntil(() => undefined, { timeoutMs: 10, what: 'the impossible' })).rejects.toThrow('waiting for the impossible');
  });

  it('fake host - while down it refuses deliveries, and gets them once back up', async () => {
    const driver = new FakeDriver();
    const host = new FakeHost();
    const gateway = createGateway({
      devices: [{ id: 'd', definition: driver.definition }],
      hosts: [{ id: 'h', definition: host.definition }],
      outbox: { backoff: { delays: [5], jitter: 0 } },
    });
    await gateway.start();
    await driver.waitRunning();
    host.down = true;
    driver.emit('t', 1);
    expect(host.refused).toBeGreaterThan(0);
    expect(gateway.health().hosts[0]).toMatchObject({ status: 'unknown' });
    host.down = false;
    await host.waitFor((e) => e.kind === 'state' && e.value === 1);
    const reply = await host.submit({ device: 'd', channel: 'x', value: 2 });
    expect(reply).toMatchObject({ ok: true, value: 2 });
    expect(driver.commands).toHaveLength(1);
    await gateway.stop();
    expect(ErrorCodes.HOST_UNREACHABLE).toBe('PB301_HOST_UNREACHABLE');
  });

  it('capture logger - find matches messages, optionally at one level, children included', () => {
    const log = captureLogger();
    log.info('port 1 open');
    log.child({ part: 'x' }).warn({ n: 2 }, 'port 2 closed');
    log.error('port 3 failed');
    expect(log.find(/port \d/).map((l) => l.message)).toEqual(['port 1 open', 'port 2 closed', 'port 3 failed']);
    expect(log.find(/port/, 'warn')).toEqual([{ level: 'warn', message: 'port 2 closed', fields: { part: 'x', n: 2 } }]);
    expect(log.find(/closed/, 'error')).toEqual([]);
    expect(log.isLevelEnabled('debug')).toBe(true);
    const quiet = captureLogger({ levels: 'info' });
    expect([quiet.isLevelEnabled('trace'), quiet.isLevelEnabled('debug'), quiet.isLevelEnabled('info'), quiet.isLevelEnabled('error')]).toEqual([false, false, true, true]);
  });

  it('capture logger - waitFor resolves on the first matching line, at the level asked for', async () => {
    const log = captureLogger();
    log.info('ready');
    await expect(log.waitFor(/ready/)).resolves.toMatchObject({ level: 'info', message: 'ready' });
    const waiting = log.waitFor(/listening on \d+/, { level: 'warn' });
    log.info('listening on 80');
    log.warn('listening on 81');
    await expect(waiting).resolves.toMatchObject({ level: 'warn', message: 'listening on 81' });
  });

  it('capture logger - waitFor rejects after the timeout, naming the pattern and the level', async () => {
    const log = captureLogger();
    log.info('never an error');
    await expect(log.waitFor(/never/, { level: 'error', timeoutMs: 10 })).rejects.toThrow('waiting for a log line matching /never/ at level error');
    await expect(log.waitFor(/absent/, { timeoutMs: 10 })).rejects.toThrow('waiting for a log line matching /absent/ at any level');
  });
});
