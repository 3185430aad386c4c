import { createGateway, ErrorCodes } from '@patchbay/core';
import { describe, expect, it } from 'vitest';
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
});
