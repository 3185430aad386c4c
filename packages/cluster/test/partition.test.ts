import { ErrorCodes, type OutboundEvent } from '@patchbay/core';
import { FakeDriver, Mosquitto } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { CuttableProxy } from './proxy.js';
import { clusterName, eventsOf, startMember, type Member } from './rig.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

const online = (device: string, availability: string) => (e: OutboundEvent) => e.kind === 'availability' && e.device === device && e.availability === availability;

describe('cluster - three gateways and a partition', () => {
  it('cluster three gateways - state from A reaches the hosts of B and C; a command from each gets one reply (19.2-19.4)', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.close());
    const cluster = clusterName();
    const members: Member[] = [];
    for (const [name, sim] of [['A', ['thermo1']], ['B', []], ['C', []]] as const) {
      const m = await startMember({ url: broker.url, cluster, name, sim: [...sim] });
      cleanups.push(() => m.stop());
      members.push(m);
    }
    const [, b, c] = members as [Member, Member, Member];
    for (const m of [b, c]) await m.host.waitFor(online('thermo1', 'online'), { timeoutMs: 10_000, what: `thermo1 online on ${m.name}` });
    const fromB = await b.host.submit({ device: 'thermo1', channel: 'relay', value: true });
    const fromC = await c.host.submit({ device: 'thermo1', channel: 'relay', value: false });
    expect(fromB).toMatchObject({ ok: true, value: true });
    expect(fromC).toMatchObject({ ok: true, value: false });
    for (const m of [b, c]) {
      await m.host.waitFor((e) => e.kind === 'state' && e.device === 'thermo1' && e.channel === 'relay' && e.value === true, { timeoutMs: 10_000, what: `relay on seen on ${m.name}` });
      await m.host.waitFor((e) => e.kind === 'state' && e.device === 'thermo1' && e.channel === 'relay' && e.value === false && e.time >= fromC.time - 1000, { timeoutMs: 10_000, what: `relay off seen on ${m.name}` });
      expect(m.cluster.health()?.gateways.map((g) => [g.id, g.status, g.devices])).toEqual([
        [m.name, 'online', []],
        ['A', 'online', ['thermo1']],
        [m.name === 'B' ? 'C' : 'B', 'online', []],
      ]);
    }
  });

  it('cluster partition - A\'s link cut for 20 s: B sees its device offline, commands meanwhile get PB204, and on return the latest state and every momentary event arrive once (19.5, 19.6)', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.close());
    const proxy = await CuttableProxy.start({ host: '127.0.0.1', port: broker.port });
    cleanups.push(() => proxy.close());
    const cluster = clusterName();
    const driver = new FakeDriver();
    const a = await startMember({ url: proxy.url, cluster, name: 'A', fake: { driver, ids: ['dev1'] } });
    cleanups.push(() => a.stop());
    const b = await startMember({ url: broker.url, cluster, name: 'B' });
    cleanups.push(() => b.stop());
    await driver.waitRunning();
    driver.emit('counter', 0);
    await b.host.waitFor(online('dev1', 'online'), { timeoutMs: 10_000, what: 'dev1 online on B' });

    const before = b.host.delivered.length;
    proxy.cut();
    await b.host.waitFor((e) => b.host.delivered.indexOf(e) >= before && online('dev1', 'offline')(e), { timeoutMs: 10_000, what: 'dev1 offline on B (the will)' });
    expect(b.cluster.health()?.gateways.find((g) => g.id === 'A')?.status).toBe('offline');
    const meanwhile = await b.host.submit({ device: 'dev1', channel: 'counter', value: 5 });
    expect(meanwhile).toMatchObject({ ok: false, code: ErrorCodes.DEVICE_UNAVAILABLE });
    // A keeps running: what it reports is held in its outbox.
    for (let i = 1; i <= 20; i++) driver.emit('counter', i);
    driver.ctx?.momentary('button', 'one');
    driver.ctx?.momentary('button', 'two');
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    proxy.restore();

    const back = b.host.delivered.length;
    await b.host.waitFor((e) => b.host.delivered.indexOf(e) >= back && online('dev1', 'online')(e), { timeoutMs: 15_000, what: 'dev1 online again on B' });
    await b.host.waitFor((e) => e.kind === 'state' && e.device === 'dev1' && e.value === 20, { timeoutMs: 10_000, what: 'the latest counter on B' });
    await b.host.waitFor((e) => e.kind === 'momentary' && e.value === 'two', { timeoutMs: 10_000, what: 'the second press on B' });
    expect(eventsOf(b.host, 'momentary', 'dev1').map((e) => e.value)).toEqual(['one', 'two']);
    expect(await b.host.submit({ device: 'dev1', channel: 'counter', value: 21 })).toMatchObject({ ok: true, value: 21 });
    expect(driver.commands.map((c) => c.value)).toEqual([21]);
  }, 60_000);
});
