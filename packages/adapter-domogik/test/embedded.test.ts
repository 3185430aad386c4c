import { getEventListeners } from 'node:events';
import { createGateway, defaultInputBudgetBytes, InputBudget, silentLogger, type HostContext } from '@patchbay/core';
import { captureLogger, FakeDriver, Signal } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { Publisher, Subscriber } from 'zeromq';
import domogikAdapter, { domogikConfig, type DomogikConfig } from '../src/index.js';
import { DomogikPlugin, type MdpClient } from '../src/internal.js';
import simDriver from '@patchbay/driver-sim';
import { MdpClient as Client } from '../src/transport/mq/client.js';
import { PythonPeer } from './pythonPeer.js';
import { awaitService } from './rig.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const service = 'plugin-patchbay.testhost';

describe('domogik plugin on its embedded bus', () => {
  it('domogik - §11.31 a device slower than commandTimeoutMs still gets client.cmd.result (status false) before xplgw gives up', async () => {
    const driver = new FakeDriver();
    driver.answer = () => new Promise(() => undefined); // never answers
    let plugin: DomogikPlugin | undefined;
    const gateway = createGateway({
      devices: [{ id: 'dev1', definition: driver.definition }],
      hosts: [
        {
          id: 'domogik',
          definition: { ...domogikAdapter, create: (config, ctx) => (plugin = domogikAdapter.create(config as DomogikConfig, ctx) as DomogikPlugin) },
          options: { bus: 'embedded', reqRepPort: 0, pubPort: 0, subPort: 0, host: 'testhost', configService: 'none', commandTimeoutMs: 500, commands: { 'dev1.relay': 10 } },
        },
      ],
    });
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 200 }));
    await gateway.start();
    const peer = new PythonPeer(plugin?.ports as NonNullable<DomogikPlugin['ports']>);
    cleanups.push(() => peer.close());
    await awaitService(peer, service);
    const reply = await peer.request({ service, action: 'client.cmd', data: { command_id: 10, device_id: 3, value: '1' }, timeout: 10 });
    expect(reply.data).toMatchObject({ status: false });
    expect(String(reply.data?.reason)).toContain('did not answer');
    expect(Number(reply.ms)).toBeLessThan(10_000);
    // The worker is free again: the next request is answered too (§5.7).
    const next = await peer.request({ service, action: 'helper.list.get', data: {}, timeout: 5 });
    expect(next.action).toBe('helper.list.result');
  });

  it('domogik - on its own bus the broker calls the plugin in-process: listed by mmi, malformed bodies answered once with a log line', async () => {
    let bad = 0;
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (m: unknown) => void warnings.push(String(m)), child: () => logger };
    const ctx = { ...fakeContext(), logger, counter: () => ({ inc: () => void bad++ }) };
    const plugin = new DomogikPlugin(domogikConfig.parse({ bus: 'embedded', reqRepPort: 0, pubPort: 0, subPort: 0, host: 'testhost', configService: 'none' }), ctx);
    await plugin.start();
    cleanups.push(() => plugin.stop());
    const peer = new PythonPeer(plugin.ports as NonNullable<DomogikPlugin['ports']>);
    cleanups.push(() => peer.close());
    expect((await peer.raw(['MDPC01', 'mmi.services', ''])).frames).toEqual(['MDPC01', 'mmi.services', service]);
    const badJson = await peer.raw(['MDPC01', service, '5', 'device.new.get', '{oops'], 5);
    expect(badJson).toMatchObject({ action: 'device.new.get.result', data: { status: false } });
    const tooShort = await peer.raw(['MDPC01', service, '5', 'device.new.get'], 5);
    expect(tooShort).toMatchObject({ action: 'device.new.get.result', data: { status: false } });
    // helper.do echoes its parameters: 5000 levels deep they are refused at decode, not left to overflow the encoder.
    const deep = await peer.raw(['MDPC01', service, '5', 'helper.do', `{"command":"nope","parameters":${'['.repeat(5000)}${']'.repeat(5000)}}`], 5);
    expect(deep).toMatchObject({ action: 'helper.do.result', data: { status: false, reason: expect.stringContaining('JSON nested deeper than 64 levels') } });
    expect(bad).toBe(3);
    expect(warnings.filter((w) => w.startsWith('domogik: dropped a malformed request'))).toHaveLength(3);
    const ok = await peer.request({ service, action: 'device.new.get', data: {}, timeout: 5 });
    expect(ok).toMatchObject({ action: 'device.new.result', data: { devices: [] } });
  });

  it('domogik - device.update publications while admin is silent run one load at a time, then exactly one reload when admin answers', async () => {
    const log = captureLogger();
    const plugin = new DomogikPlugin(
      domogikConfig.parse({ bus: 'embedded', reqRepPort: 0, pubPort: 0, subPort: 0, host: 'testhost', configTimeoutMs: 300, deviceTimeoutMs: 2000 }),
      { ...fakeContext(), logger: log.logger },
    );
    await plugin.start();
    cleanups.push(() => plugin.stop());
    const ports = plugin.ports as NonNullable<DomogikPlugin['ports']>;
    // Started now so that only its worker's READY is left for later.
    const peer = new PythonPeer(ports);
    cleanups.push(() => peer.close());
    const openSockets = () => (plugin as unknown as { client: MdpClient }).client.openSockets;
    // No admin on the bus: the broker drops config.get and the load retries with back-off.
    await log.waitFor(/^domogik broker: no service "admin"/);
    const pub = new Publisher({ linger: 0 });
    cleanups.push(() => pub.close());
    pub.connect(`tcp://127.0.0.1:${ports.pubPort}`);
    const coalesced = () => log.find(/^domogik: device\.update while the sensor mapping is loading/, 'debug').length;
    let n = 0;
    const update = () => pub.send([`device.update.1700000000_${String(++n).padStart(6, '0')}.0_1`, JSON.stringify({ device_id: 8, client_id: service })]);
    // Handled: coalesced into the running load, or (the defect) a second load with its own REQ socket.
    const handled = (count: number) => (coalesced() >= count || openSockets() > 1 ? true : undefined);
    // Slow joiner (§4.4): repeat until the first one has arrived.
    while (handled(1) === undefined) {
      await update();
      await log.changed.waitUntil(() => handled(1), { what: 'the first device.update', timeoutMs: 100 }).catch(() => undefined);
    }
    const before = coalesced();
    let most = openSockets();
    for (let i = 0; i < 500; i++) {
      await update();
      most = Math.max(most, openSockets());
    }
    await log.changed.waitUntil(() => handled(before + 500), { what: '500 device.update publications handled' });
    // Without coalescing each one held its own REQ socket, retrying forever.
    expect(Math.max(most, openSockets())).toBeLessThanOrEqual(1);
    const mapped = () => log.find(/sensor\(s\) mapped/, 'info').map((l) => l.message.split(':')[1]?.trim());
    expect(mapped()).toEqual([]);
    // Admin answers: the start-up load completes, then exactly one reload for all of the publications.
    peer.worker({ service: 'admin', config: { configured: true }, devices: [] });
    await log.changed.waitUntil(() => (mapped().length >= 2 ? true : undefined), { what: 'the start-up load and one reload', timeoutMs: 15_000 });
    expect(mapped()).toEqual(['start-up', 'device.update']);
    expect(openSockets()).toBe(0);
    // A later device.update gets its own load: the coalesced reload above was the only one.
    await update();
    await log.changed.waitUntil(() => (mapped().length >= 3 ? true : undefined), { what: 'the load for a later device.update' });
    expect(mapped()).toEqual(['start-up', 'device.update', 'device.update']);
    // The peer reports on its stdout, which may trail the reply it sent.
    const deviceGets = () => peer.events.filter((e) => e.event === 'request' && e.action === 'device.get').length;
    await peer.waitFor(() => deviceGets() >= 3, { what: "admin's third device.get" });
    expect(deviceGets()).toBe(3);
  });

  it('domogik - a load retrying while admin is silent keeps at most one abort listener on its signal, not one per retry', async () => {
    const retries: string[] = [];
    const changed = new Signal();
    const status: HostContext['status'] = (state, reason) => {
      if (state === 'unknown') retries.push(reason ?? '');
      changed.notify();
    };
    const plugin = new DomogikPlugin(domogikConfig.parse({ bus: 'embedded', reqRepPort: 0, pubPort: 0, subPort: 0, host: 'testhost', configTimeoutMs: 100 }), { ...fakeContext(), status });
    await plugin.start();
    cleanups.push(() => plugin.stop());
    const signal = (plugin as unknown as { abort: AbortController }).abort.signal;
    // The second failure: the first back-off pause is over and the second has begun.
    await changed.waitUntil(() => (retries.length >= 2 ? true : undefined), { what: 'the second retry' });
    expect(retries[1]).toMatch(/^Domogik unreachable: .*; retrying in \d+ ms$/);
    // The back-off pause listens on a wake signal of its own: the run's signal gathers nothing per retry.
    expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(1);
  });

  it('domogik - one plugin instance starts and stops twice on the same fixed ports (embedded bus released and rebound)', async () => {
    const probe = new DomogikPlugin(domogikConfig.parse({ bus: 'embedded', reqRepPort: 0, pubPort: 0, subPort: 0, configService: 'none' }), fakeContext());
    await probe.start();
    const ports = probe.ports as NonNullable<DomogikPlugin['ports']>;
    await probe.stop();
    const plugin = new DomogikPlugin(domogikConfig.parse({ bus: 'embedded', ...ports, host: 'testhost', configService: 'none' }), fakeContext());
    for (let round = 0; round < 2; round++) {
      await plugin.start();
      expect(plugin.ports).toEqual(ports);
      const peer = new PythonPeer(ports);
      await awaitService(peer, service);
      await peer.close();
      await plugin.stop();
      expect(plugin.pluginStatus).toBe('stopped');
    }
  });

  it('domogik - devices reporting in one turn of the loop go in one client.sensor publication, not one each', async () => {
    const drivers = Array.from({ length: 20 }, () => new FakeDriver());
    let plugin: DomogikPlugin | undefined;
    const sensors = Object.fromEntries(drivers.map((_, i) => [`dev${i}.temperature`, 100 + i]));
    const gateway = createGateway({
      devices: drivers.map((d, i) => ({ id: `dev${i}`, definition: d.definition })),
      hosts: [
        {
          id: 'domogik',
          definition: { ...domogikAdapter, create: (config, ctx) => (plugin = domogikAdapter.create(config as DomogikConfig, ctx) as DomogikPlugin) },
          options: { bus: 'embedded', reqRepPort: 0, pubPort: 0, subPort: 0, host: 'testhost', configService: 'none', sensors },
        },
      ],
    });
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 200 }));
    await gateway.start();
    await Promise.all(drivers.map((d) => d.waitRunning()));
    const sub = new Subscriber({ linger: 0 });
    cleanups.push(() => sub.close());
    sub.connect(`tcp://127.0.0.1:${plugin?.ports?.subPort}`);
    sub.subscribe('client.sensor');
    const publications: Record<string, unknown>[] = [];
    const seen = new Set<string>();
    const all = new Signal();
    void (async () => {
      for await (const [, data] of sub) {
        const body = JSON.parse(String(data)) as Record<string, unknown>;
        publications.push(body);
        for (const key of Object.keys(body)) seen.add(key);
        all.notify();
      }
    })().catch(() => undefined);
    // A subscription takes a moment to reach the forwarder (slow joiner) and says nothing when it
    // has: a probe value goes again every 100 ms until one arrives.
    let probe = 0;
    const probing = setInterval(() => drivers[0]?.emit('temperature', probe++), 100);
    cleanups.push(() => clearInterval(probing));
    await all.waitUntil(() => (seen.has('100') ? true : undefined), { timeoutMs: 20_000, what: 'a probe value on sensor 100' });
    clearInterval(probing);
    // One timer each, all due in the same turn: as sim devices ticking together.
    for (const [i, d] of drivers.entries()) setTimeout(() => d.emit('temperature', 1000 + i), 0);
    // (a probe still on its way carries values under 1000)
    const ticks = () => publications.filter((p) => Object.entries(p).some(([k, v]) => k !== 'atTimestamp' && typeof v === 'number' && v >= 1000));
    const got = () => Object.assign({}, ...ticks()) as Record<string, unknown>;
    await all.waitUntil(() => (drivers.every((_, i) => got()[String(100 + i)] === 1000 + i) ? true : undefined), { timeoutMs: 10_000, what: 'every sensor value' });
    // The first device's tick goes at once, the nineteen that fire behind it in one more (two,
    // should a second's boundary fall among them: atTimestamp differs).
    expect(ticks().length).toBeLessThanOrEqual(3);
    expect(got()).toMatchObject(Object.fromEntries(drivers.map((_, i) => [String(100 + i), 1000 + i])));

    // Two presses of one sensor batched behind a publication in flight: each is a reading of its
    // own, so the second starts a new publication rather than overwriting the first.
    const presses = () => publications.filter((p) => Object.entries(p).some(([k, v]) => k !== 'atTimestamp' && typeof v === 'number' && v >= 7000));
    setTimeout(() => {
      drivers[0]?.emit('temperature', 7000);
      drivers[1]?.ctx?.momentary('temperature', 7001);
      drivers[1]?.ctx?.momentary('temperature', 7002);
      drivers[2]?.emit('temperature', 7003);
    }, 0);
    await all.waitUntil(() => (presses().some((p) => p['102'] === 7003) ? true : undefined), { timeoutMs: 10_000, what: 'the last value of the turn' });
    expect(presses().map((p) => p['101']).filter((v) => v !== undefined)).toEqual([7001, 7002]);
    // With 7003 unless a second's boundary fell between them (atTimestamp differs).
    const second = presses().find((p) => p['101'] === 7002);
    const last = presses().find((p) => p['102'] === 7003);
    if (second !== last) expect(second?.atTimestamp).not.toBe(last?.atTimestamp);
  }, 30_000);
});

function fakeContext(): HostContext {
  return {
    id: 'domogik',
    gatewayName: 'patchbay',
    logger: silentLogger,
    signal: new AbortController().signal,
    counter: () => ({ inc: () => undefined }),
    status: () => undefined,
    fail: () => undefined,
    submit: () => Promise.reject(new Error('unused')),
    snapshot: () => ({ devices: [] }),
    devices: () => [],
    setPaused: () => false,
    description: () => undefined,
    health: () => ({ status: 'ok', name: 'patchbay', uptimeMs: 0, devices: [], hosts: [], input: { bufferedBytes: 0, peakBytes: 0, limitBytes: defaultInputBudgetBytes, refused: 0 } }),
    connection: () => undefined,
    requestStop: () => undefined,
    http: undefined,
    inputBudget: new InputBudget(defaultInputBudgetBytes),
  };
}

describe('domogik - bad client.cmd input is answered briefly (13.9, 14.10)', () => {
  it('domogik - a missing command_id is named as missing; a 16 MiB value or command_id gets a reason of at most a few hundred characters back', async () => {
    const log = captureLogger();
    let plugin: DomogikPlugin | undefined;
    const gateway = createGateway({
      devices: [{ id: 'thermo1', definition: simDriver, options: { interval: 3_600_000 } }],
      hosts: [
        {
          id: 'domogik',
          definition: { ...domogikAdapter, create: (config, ctx) => (plugin = domogikAdapter.create(config as DomogikConfig, ctx) as DomogikPlugin) },
          // A 16 MiB value must reach the plugin to be answered: past the bus's 1 MiB default.
          options: { bus: 'embedded', reqRepPort: 0, pubPort: 0, subPort: 0, host: 'testhost', configService: 'none', commands: { 'thermo1.relay': 4 }, busMaxMessageBytes: 32 * 1024 * 1024 },
        },
      ],
      logger: log.logger,
    });
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 200 }));
    await gateway.start();
    const ports = plugin?.ports as NonNullable<DomogikPlugin['ports']>;
    const client = new Client({ endpoint: `tcp://127.0.0.1:${ports.reqRepPort}`, timeoutFrame: true, logger: silentLogger, badMessages: { inc: () => undefined }, maxMessageBytes: 1024 * 1024 });
    cleanups.push(() => client.close());
    const ask = async (data: Record<string, unknown>) => (await client.request({ service, action: 'client.cmd', data: data as never, timeoutMs: 10_000 })).data;
    expect(await ask({ value: '1' })).toEqual({ status: false, reason: expect.stringMatching(/has no command_id/) });
    const huge = 'x'.repeat(16 * 1024 * 1024);
    const byValue = await ask({ command_id: 4, value: huge });
    expect(byValue.status).toBe(false);
    expect(String(byValue.reason).length).toBeLessThan(1000);
    const byId = await ask({ command_id: huge, value: '1' });
    expect(byId.status).toBe(false);
    expect(String(byId.reason).length).toBeLessThan(1000);
    expect(String(byId.reason)).toMatch(/needs an integer command_id, got "x{10,}… \(16777218 characters\)/);
    // The log lines are short too.
    for (const line of log.find(/client\.cmd/)) expect(JSON.stringify(line).length).toBeLessThan(2000);
  }, 30_000);
});
