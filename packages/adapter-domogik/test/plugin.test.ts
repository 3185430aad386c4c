import { createServer } from 'node:net';
import { createGateway } from '@patchbay/core';
import simDriver from '@patchbay/driver-sim';
import { afterEach, describe, expect, it } from 'vitest';
import domogikAdapter from '../src/index.js';
import { pluginStatuses } from '../src/protocol/wire.js';
import { awaitService, service, startRig, thermoDevice } from './rig.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const idPattern = (category: string) => new RegExp(`^${category.replace(/\./g, '\\.')}\\.[0-9]+_[0-9]+\\.0_1$`);

describe('domogik plugin on the bus (Python peer as xplgw and admin)', () => {
  it('domogik - acceptance: client.cmd reaches the simulated device, client.cmd.result carries its answer, sensor values arrive with the right ids', async () => {
    const r = await startRig(cleanups);
    // §11.25: starting, then alive once configuration and devices are loaded.
    await r.peer.waitForPub('plugin.status', (d) => d.event === 'alive', { what: 'alive' });
    const statuses = r.peer.publications('plugin.status').map((e) => e.data?.event);
    expect(statuses[0]).toBe('starting');
    // §11.27 §11.28: what admin was asked.
    expect(r.adminRequests('config.get')[0]).toEqual({ type: 'plugin', name: 'patchbay', host: 'testhost', key: 'configured' });
    expect(r.adminRequests('device.get')[0]).toEqual({ type: 'plugin', name: 'patchbay', host: 'testhost' });
    // §11.30: the sim's initial values under sensor ids 57/58/59 from device.get.
    const t = await r.peer.waitForPub('client.sensor', (d) => '57' in d, { what: 'temperature on sensor 57' });
    expect(t.data).toMatchObject({ '57': 21 });
    expect(Number.isInteger(t.data?.atTimestamp)).toBe(true);
    await r.peer.waitForPub('client.sensor', (d) => d['58'] === 45, { what: 'humidity on sensor 58' });
    await r.peer.waitForPub('client.sensor', (d) => d['59'] === 0, { what: 'relay on sensor 59' });
    // §11.31: client.cmd as xplgw sends it (value as a string), answered well within 10 s.
    const reply = await r.peer.request({ service, action: 'client.cmd', data: { command_id: 80, device_id: 8, value: '1' }, timeout: 10 });
    expect(reply.event).toBe('reply');
    expect(reply.frames).toEqual(['MDPC01', service, 'client.cmd.result', expect.any(String)]);
    expect(reply.data).toEqual({ status: true, reason: null, value: true });
    await r.peer.waitForPub('client.sensor', (d) => d['59'] === 1, { what: 'the relay change on sensor 59' });
    // A refusal (here the core's: the relay is described as a boolean) comes back as status false with its reason.
    const refused = await r.peer.request({ service, action: 'client.cmd', data: { command_id: 80, device_id: 8, value: 'maybe' }, timeout: 10 });
    expect(refused.data).toMatchObject({ status: false });
    expect(String(refused.data?.reason)).toContain('expects a boolean');
    // Unknown device_id / command_id: status false with a reason.
    const unknownDevice = await r.peer.request({ service, action: 'client.cmd', data: { command_id: 80, device_id: 999, value: '1' }, timeout: 10 });
    expect(unknownDevice.data).toEqual({ status: false, reason: 'unknown device_id 999' });
    const unknownCommand = await r.peer.request({ service, action: 'client.cmd', data: { command_id: 4242, device_id: 8, value: '1' }, timeout: 10 });
    expect(unknownCommand.data).toMatchObject({ status: false, reason: 'unknown command_id 4242' });
    // §11.2 §11.3 §11.4 §11.24: every publication has two frames, a well-formed id, the five status keys.
    const pubs = r.peer.events.filter((e) => e.event === 'pub');
    for (const p of pubs) {
      expect(p.frames).toBe(2);
      expect(p.id).toMatch(idPattern(p.category as string));
    }
    for (const s of r.peer.publications('plugin.status')) {
      expect(Object.keys(s.data ?? {}).sort()).toEqual(['comment', 'event', 'host', 'name', 'type']);
      expect(Object.values(s.data ?? {}).every((v) => typeof v === 'string')).toBe(true);
      expect(pluginStatuses).toContain(s.data?.event);
    }
    for (const s of r.peer.publications('client.sensor')) {
      for (const [key, value] of Object.entries(s.data ?? {})) {
        if (key === 'atTimestamp') continue;
        expect(key).toMatch(/^[0-9]+$/);
        expect(['number', 'string']).toContain(typeof value);
      }
    }
  });

  it('domogik - 14.10 a clean first start: the host is alive only once its mapping has loaded, and waiting for the bus is info with no stack, never WARN "unreachable"', async () => {
    const r = await startRig(cleanups);
    await r.peer.waitForPub('plugin.status', (d) => d.event === 'alive', { what: 'alive' });
    await r.peer.waitForPub('client.sensor', (d) => '57' in d, { what: 'temperature on sensor 57' });
    const messages = r.log.lines.map((l) => l.message);
    const mapped = messages.findIndex((m) => /sensor\(s\) mapped/.test(m));
    const alive = messages.findIndex((m) => /host domogik \(domogik\) is alive/.test(m));
    expect(mapped).toBeGreaterThanOrEqual(0);
    expect(alive).toBeGreaterThan(mapped);
    expect(r.log.find(/unreachable/)).toEqual([]);
    expect(r.log.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
    // Once the outbox's next retry has delivered what waited, the host is alive.
    await expect.poll(() => r.hostStatus(), { timeout: 10_000 }).toBe('alive');
  });

  it('domogik - 14.10 while Domogik admin has not answered, the host is starting, not alive', async () => {
    const r = await startRig(cleanups, { admin: false, adapter: { configTimeoutMs: 5000 } });
    // start() has returned: before, the supervisor called the host alive here.
    expect(r.hostStatus()).toBe('starting');
    expect(r.log.find(/host domogik \(domogik\) is alive/)).toEqual([]);
    expect(r.gateway.health().hosts[0]?.reason).toMatch(/waiting for the Domogik bus and the sensor mapping/);
  });

  it('domogik - §11.26 the current status is re-published on the interval with no gap beyond it', async () => {
    const r = await startRig(cleanups, { admin: false, adapter: { configService: 'none', statusIntervalMs: 1000, sensors: { 'thermo1.temperature': 1 } } });
    await r.peer.waitFor((e) => r.peer.publications('plugin.status').filter((p) => p.data?.event === 'alive').length >= 4 && e.event === 'pub', { what: '4 alive publications' });
    const alive = r.peer.events.filter((e) => e.event === 'pub' && e.category === 'plugin.status' && e.data?.event === 'alive');
    // The periodic ones (the first alive follows loading, not the timer): consecutive gaps of 1 s ± 0.3 s.
    const times = alive.map((e) => Number(String(e.id).split('.')[2]?.replace('_', '.')));
    const gaps = times.slice(2).map((t, i) => t - (times[i + 1] as number));
    for (const gap of gaps) expect(Math.abs(gap - 1)).toBeLessThan(0.3);
  });

  it('domogik - §11.25 not configured: publishes not-configured and the Domogik host stops, the gateway keeps running', async () => {
    const r = await startRig(cleanups, { admin: { config: { configured: 'N' } } });
    await r.peer.waitForPub('plugin.status', (d) => d.event === 'not-configured', { what: 'not-configured' });
    await expect.poll(() => r.hostStatus(), { timeout: 5000 }).toBe('stopped');
    expect(r.peer.publications('plugin.status').map((p) => p.data?.event)).not.toContain('alive');
    // Its worker socket is gone (DISCONNECT sent): the broker no longer lists the service.
    const mmi = await r.peer.raw(['MDPC01', 'mmi.service', service], 2);
    expect(mmi.frames).toEqual(['MDPC01', 'mmi.service', '404']);
    expect(r.gateway.health().devices[0]?.status).toBe('alive');
  });

  it('domogik - §11.32 plugin.stop.do: result, then stop-request and stopped, then the Domogik host stops', async () => {
    const r = await startRig(cleanups);
    await r.peer.waitForPub('plugin.status', (d) => d.event === 'alive', { what: 'alive' });
    const wrong = await r.peer.request({ service, action: 'plugin.stop.do', data: { type: 'plugin', name: 'other', host: 'testhost' }, timeout: 5 });
    expect(wrong.data).toMatchObject({ status: false });
    const reply = await r.peer.request({ service, action: 'plugin.stop.do', data: { type: 'plugin', name: 'patchbay', host: 'testhost' }, timeout: 5 });
    expect(reply.action).toBe('plugin.stop.result');
    expect(reply.data).toEqual({ status: true, reason: '', name: 'patchbay', host: 'testhost' });
    await r.peer.waitForPub('plugin.status', (d) => d.event === 'stopped', { what: 'stopped' });
    const events = r.peer.publications('plugin.status').map((p) => p.data?.event);
    expect(events.slice(-2)).toEqual(['stop-request', 'stopped']);
    await expect.poll(() => r.hostStatus(), { timeout: 5000 }).toBe('stopped');
    expect(r.gateway.health().devices[0]?.status).toBe('alive');
  });

  it('domogik - §11.33 §11.18 device.new.get, helper.list.get and unknown actions are answered, and the next request too', async () => {
    const r = await startRig(cleanups, { admin: false, adapter: { configService: 'none' } });
    await awaitService(r.peer, service);
    const unknown = await r.peer.request({ service, action: 'frobnicate.do', data: {}, timeout: 5 });
    expect(unknown).toMatchObject({ action: 'frobnicate.do.result', data: { status: false, reason: 'unsupported action' } });
    const badJson = await r.peer.raw(['MDPC01', service, '5', 'device.new.get', '{oops'], 5);
    expect(badJson.action).toBe('device.new.get.result');
    expect(badJson.data).toMatchObject({ status: false });
    const detected = await r.peer.request({ service, action: 'device.new.get', data: {}, timeout: 5 });
    expect(detected).toMatchObject({ action: 'device.new.result', data: { devices: [] } });
    const helpers = await r.peer.request({ service, action: 'helper.list.get', data: {}, timeout: 5 });
    expect(helpers).toMatchObject({ action: 'helper.list.result', data: { actions: ['refresh'] } });
  });

  it('domogik - §11.5 §11.6 §11.29 device.update re-runs device.get when ours or unaddressed; malformed and prefix-only publications are dropped with a log line', async () => {
    const r = await startRig(cleanups);
    await r.peer.waitForPub('plugin.status', (d) => d.event === 'alive', { what: 'alive' });
    const before = r.adminRequests('device.get').length;
    const bad = () => r.log.lines.filter((l) => l.message.startsWith('domogik subscriber: dropped a malformed publication')).length;
    const publish = async (cmd: Record<string, unknown>) => {
      const id = `p${Math.random()}`;
      r.peer.send({ op: 'publish', id, ...cmd });
      await r.peer.waitFor((e) => e.event === 'published' && e.id === id, { what: 'publish' });
    };
    await publish({ category: 'device.update', data: { device_id: 8, client_id: 'plugin-other.testhost' } }); // not ours
    await publish({ frames: ['device.update.1700000000_1.0_1'] }); // < 2 frames
    await publish({ frames: ['device.update', '{}'] }); // id with < 3 parts
    await publish({ frames: ['device.update.1700000000_1.0_1', '{not json'] }); // invalid JSON
    await publish({ frames: ['device.updatefoo.1700000000_1.0_1', '{}'] }); // over-matching prefix
    await publish({ category: 'device.update', data: { device_id: 8, client_id: service } }); // ours
    await r.peer.waitFor(() => r.adminRequests('device.get').length >= before + 1, { what: 'device.get after device.update' });
    await publish({ category: 'device.update', data: { device_id: 8 } }); // unaddressed
    await r.peer.waitFor(() => r.adminRequests('device.get').length >= before + 2, { what: 'device.get after an unaddressed device.update' });
    expect(r.adminRequests('device.get')).toHaveLength(before + 2);
    expect(bad()).toBe(3);
    expect(r.log.counters.get('patchbay_domogik_bad_messages_total')).toBe(3);
  });

  it('domogik - §11.27 config.get goes to dbmgr for 0.4/0.5, chosen by option or detected with mmi.service', async () => {
    const r = await startRig(cleanups, { admin: { service: 'dbmgr' }, adapter: { configService: 'auto' } });
    await r.peer.waitForPub('plugin.status', (d) => d.event === 'alive', { what: 'alive' });
    expect(r.peer.events.filter((e) => e.event === 'request').map((e) => `${String(e.service)} ${String(e.action)}`)).toEqual(['dbmgr config.get', 'dbmgr device.get']);
  });

  it('domogik - §11 a config.get that times out is retried with back-off, the host is reported unreachable, then comes alive', async () => {
    const r = await startRig(cleanups, { admin: false, adapter: { configTimeoutMs: 300 } });
    await expect.poll(() => r.gateway.health().hosts[0]?.reason ?? '', { timeout: 5000 }).toContain('Domogik unreachable');
    expect(r.hostStatus()).toBe('unknown');
    expect(r.gateway.health().devices[0]?.status).toBe('alive');
    r.peer.worker({ service: 'admin', config: { configured: 'True' }, devices: [thermoDevice] });
    await r.peer.waitForPub('plugin.status', (d) => d.event === 'alive', { what: 'alive after admin came up', timeoutMs: 15_000 });
    await expect.poll(() => r.hostStatus(), { timeout: 5000 }).toBe('alive');
  });

  it('domogik - §11.1 the plugin connects and never binds: with no bus present it starts and the ports stay free', async () => {
    const free = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    const gateway = createGateway({
      devices: [{ id: 'thermo1', definition: simDriver, options: { interval: 3_600_000 } }],
      hosts: [{ id: 'domogik', definition: domogikAdapter, options: { reqRepPort: free, pubPort: free, subPort: free, configService: 'none' } }],
    });
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 200 }));
    await gateway.start();
    await expect.poll(() => gateway.health().hosts[0]?.status, { timeout: 3000 }).toBe('alive');
    const bound = await new Promise<boolean>((resolve) => {
      const s = createServer().once('error', () => resolve(false));
      s.listen(free, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    expect(bound).toBe(true);
  });
});
