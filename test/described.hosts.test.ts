import { createGateway, ErrorCodes } from '@patchbay/core';
import comodojoAdapter from '@patchbay/adapter-comodojo';
import domogikAdapter from '@patchbay/adapter-domogik';
import { EmbeddedBus } from '@patchbay/adapter-domogik/internal';
import sim from '@patchbay/driver-sim';
import { captureLogger, recordingDriver } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
// Each adapter's own peer: the Python Domogik stand-in and the PHP comodojo client.
import { PythonPeer } from '../packages/adapter-domogik/test/pythonPeer.ts';
import { awaitService, service, thermoDevice } from '../packages/adapter-domogik/test/rig.ts';
import { peer } from '../packages/adapter-comodojo/test/helpers.ts';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** thermoDevice as Domogik's admin returns it, with a command (wrongly) declared for the read-only temperature. */
const device = { ...thermoDevice, commands: { ...thermoDevice.commands, temperature: { id: 82, name: 'Set', return_confirmation: true, parameters: [{ key: 'value', data_type: 'DT_Temp', conversion: '' }] } } };

describe('described devices across hosts (15.6)', () => {
  it('described - (acceptance 15.4) a write to the read-only sim temperature through Comodojo and through Domogik gets the same PB211 refusal, and the driver is never called', async () => {
    const log = captureLogger();
    const bus = new EmbeddedBus({ reqRepPort: 0, pubPort: 0, subPort: 0, logger: log.logger });
    const ports = await bus.start();
    cleanups.push(() => bus.stop());
    const python = new PythonPeer(ports);
    cleanups.push(() => python.close());
    await python.subscribe(['plugin.status']);
    python.worker({ service: 'admin', config: { configured: true }, devices: [device] });
    await awaitService(python, 'admin');
    const recorded = recordingDriver(sim);
    let rpcAddress: (() => string | undefined) | undefined;
    const gateway = createGateway({
      devices: [{ id: 'thermo1', definition: recorded.definition, options: { interval: 3_600_000 } }],
      hosts: [
        { id: 'domogik', definition: domogikAdapter, options: { bus: 'external', ...ports, host: 'testhost', configTimeoutMs: 2000, deviceTimeoutMs: 2000 } },
        {
          id: 'rpc',
          definition: {
            ...comodojoAdapter,
            create: ((config, ctx) => {
              const adapter = comodojoAdapter.create(config, ctx) as ReturnType<typeof comodojoAdapter.create> & { address(): string | undefined };
              rpcAddress = () => adapter.address();
              return adapter;
            }) as typeof comodojoAdapter.create,
          },
          options: { socket: 'tcp://127.0.0.1:0' },
        },
      ],
      logger: log.logger,
    });
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 200 }));
    await gateway.start();
    await python.waitForPub('plugin.status', (d) => d.event === 'alive', { what: 'the Domogik host alive' });

    const domogik = await python.request({ service, action: 'client.cmd', data: { command_id: 82, device_id: 8, value: '30' }, timeout: 10 });
    const [json, xml] = await peer(rpcAddress?.() as string, [
      { op: 'call', method: 'device.command', params: ['thermo1', 'temperature', 30], id: 1 },
      { op: 'call', protocol: 'xml', method: 'device.command', params: ['thermo1', 'temperature', '30'] },
    ]);
    const refusal = 'PB211_READ_ONLY: channel "temperature" of device "thermo1" is read-only (writable: relay)';
    expect(domogik.data).toEqual({ status: false, reason: refusal, code: ErrorCodes.READ_ONLY });
    expect(json?.decoded?.error).toEqual({ code: 4011, message: refusal });
    expect(xml?.fault).toMatchObject({ faultCode: 4011, faultString: refusal });
    expect(recorded.sent).toEqual([]);
    // The same channel's writable neighbour still reaches the driver from both, as a boolean.
    const on = await python.request({ service, action: 'client.cmd', data: { command_id: 80, device_id: 8, value: '1' }, timeout: 10 });
    const [off] = await peer(rpcAddress?.() as string, [{ op: 'call', method: 'device.command', params: ['thermo1', 'relay', '0'], id: 2 }]);
    expect(on.data).toMatchObject({ status: true });
    expect(off?.decoded?.result).toBe(false);
    expect(recorded.sent.map((c) => [c.channel, c.value])).toEqual([
      ['relay', true],
      ['relay', false],
    ]);
  }, 60_000);
});
