import { createGateway, silentLogger, type HostContext } from '@patchbay/core';
import { FakeDriver } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import domogikAdapter, { DomogikPlugin, domogikConfig, type DomogikConfig } from '../src/index.js';
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
    health: () => ({ status: 'ok', name: 'patchbay', uptimeMs: 0, devices: [], hosts: [] }),
    http: undefined,
  };
}
