import { createGateway, ErrorCodes } from '@patchbay/core';
import simDriver from '@patchbay/driver-sim';
import { captureLogger } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import domogikAdapter from '../src/index.js';
import { EmbeddedBus } from '../src/transport/bus/index.js';
import { PythonPeer } from './pythonPeer.js';
import { recordingSim, service, startRig, thermoDevice } from './rig.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** thermoDevice as admin returns it, plus what a package could also declare: a button sensor, a press trigger and a (wrong) temperature command. */
const device = {
  ...thermoDevice,
  sensors: { ...thermoDevice.sensors, button: { id: 60, name: 'Button', reference: 'button', data_type: 'DT_String', last_value: '' } },
  commands: {
    ...thermoDevice.commands,
    press: { id: 81, name: 'Press', return_confirmation: true, parameters: [] },
    temperature: { id: 82, name: 'Set temperature', return_confirmation: true, parameters: [{ key: 'value', data_type: 'DT_Temp', conversion: '' }] },
  },
};

describe('domogik - described devices (15.6): data types both ways (Python peer as xplgw and admin)', () => {
  it('domogik - (15.6, acceptance 15.3) client.cmd with "1" and "0" for the DT_Switch relay reaches the driver as true and false, never as the text', async () => {
    const sim = recordingSim();
    const r = await startRig(cleanups, { device: sim.definition, admin: { devices: [device] } });
    await r.peer.waitForPub('plugin.status', (d) => d.event === 'alive', { what: 'alive' });
    await r.peer.waitForPub('client.sensor', (d) => d['59'] === 0, { what: 'the relay off (DT_Switch 0)' });
    const on = await r.peer.request({ service, action: 'client.cmd', data: { command_id: 80, device_id: 8, value: '1' }, timeout: 10 });
    expect(on.data).toEqual({ status: true, reason: null, value: true });
    // Outgoing, the boolean goes back as Domogik's DT_Switch 1, not true.
    await r.peer.waitForPub('client.sensor', (d) => d['59'] === 1, { what: 'the relay on (DT_Switch 1)' });
    const off = await r.peer.request({ service, action: 'client.cmd', data: { command_id: 80, device_id: 8, value: '0' }, timeout: 10 });
    expect(off.data).toEqual({ status: true, reason: null, value: false });
    await r.peer.waitForPub('client.sensor', (d) => d['59'] === 0, { what: 'the relay off again' });
    expect(sim.sent.map((c) => [c.channel, c.value])).toEqual([
      ['relay', true],
      ['relay', false],
    ]);
    expect(sim.sent.some((c) => typeof c.value === 'string')).toBe(false);
  });

  it('domogik - (15.6, acceptance 15.4) a client.cmd for the read-only temperature is refused with PB211 and the driver is never called', async () => {
    const sim = recordingSim();
    const r = await startRig(cleanups, { device: sim.definition, admin: { devices: [device] } });
    await r.peer.waitForPub('plugin.status', (d) => d.event === 'alive', { what: 'alive' });
    const refused = await r.peer.request({ service, action: 'client.cmd', data: { command_id: 82, device_id: 8, value: '30' }, timeout: 10 });
    expect(refused.data).toEqual({ status: false, reason: expect.stringMatching(/^PB211_READ_ONLY: channel "temperature" of device "thermo1" is read-only/), code: ErrorCodes.READ_ONLY });
    // A value of the wrong kind is the core's PB212, also before the driver.
    const wrong = await r.peer.request({ service, action: 'client.cmd', data: { command_id: 80, device_id: 8, value: 'maybe' }, timeout: 10 });
    expect(wrong.data).toMatchObject({ status: false, code: ErrorCodes.VALUE_INVALID, reason: expect.stringMatching(/^PB212_VALUE_INVALID: .*expects a boolean/) });
    expect(sim.sent).toEqual([]);
  });

  it('domogik - (15.6) a parameterless command named after an action runs it, and the momentary press reaches the DT_String button sensor', async () => {
    const sim = recordingSim();
    const r = await startRig(cleanups, { device: sim.definition, admin: { devices: [device] } });
    await r.peer.waitForPub('plugin.status', (d) => d.event === 'alive', { what: 'alive' });
    const press = await r.peer.request({ service, action: 'client.cmd', data: { command_id: 81, device_id: 8 }, timeout: 10 });
    expect(press.data).toEqual({ status: true, reason: null, value: 1 });
    expect(sim.sent).toMatchObject([{ action: 'press' }]);
    expect(sim.sent[0]?.channel).toBeUndefined();
    await r.peer.waitForPub('client.sensor', (d) => d['60'] === 'single', { what: 'the press on the button sensor' });
    await r.peer.request({ service, action: 'client.cmd', data: { command_id: 81, device_id: 8 }, timeout: 10 });
    // Never coalesced: each press is its own reading.
    await r.peer.waitFor(() => r.peer.publications('client.sensor').filter((p) => p.data?.['60'] === 'single').length >= 2, { what: 'the second press' });
  });

  it('domogik - (14.2) the host says it is connected once the bus link is up and the mapping loaded, not before', async () => {
    const r = await startRig(cleanups, { admin: false, adapter: { configTimeoutMs: 5000 } });
    await expect.poll(() => r.gateway.health().hosts[0]?.connection ?? '', { timeout: 10_000 }).toMatch(/^bus up, mapping not loaded$/);
    expect(r.gateway.health().hosts[0]?.connected).toBe(false);
    r.peer.worker({ service: 'admin', config: { configured: true }, devices: [device] });
    await expect.poll(() => r.gateway.health().hosts[0]?.connected, { timeout: 15_000 }).toBe(true);
    expect(r.gateway.health().hosts[0]?.connection).toBe('bus up, mapping loaded (4 sensor(s))');
    expect(r.log.find(/host domogik connected: bus up, mapping loaded/)).toHaveLength(1);
  });
});

describe('domogik - a bus that starts after the gateway (14.2, 14.10)', () => {
  it('domogik - (14.10) waiting for a Domogik bus that is still starting is one info line with no stack: the host stays starting, never WARN, and comes alive once the bus is up', async () => {
    // Free ports for the bus, then nothing listening on them until later.
    const probe = new EmbeddedBus({ reqRepPort: 0, pubPort: 0, subPort: 0, logger: captureLogger().logger });
    const ports = await probe.start();
    await probe.stop();
    const log = captureLogger();
    const gateway = createGateway({
      devices: [{ id: 'thermo1', definition: simDriver, options: { interval: 3_600_000 } }],
      hosts: [{ id: 'domogik', definition: domogikAdapter, options: { bus: 'external', ...ports, host: 'testhost', configTimeoutMs: 1000, deviceTimeoutMs: 2000 } }],
      logger: log.logger,
    });
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 200 }));
    await gateway.start();
    const host = () => gateway.health().hosts[0];
    await expect.poll(() => host()?.reason ?? '', { timeout: 10_000 }).toMatch(/^waiting for the Domogik bus at 127\.0\.0\.1 \(broker port \d+\) to start: /);
    expect(host()?.status).toBe('starting');
    expect(host()?.connected).toBe(false);
    // Domogik comes up: its admin (Python, connecting as Domogik does before the bus is there), then the bus.
    const python = new PythonPeer(ports);
    cleanups.push(() => python.close());
    await python.subscribe(['plugin.status']);
    python.worker({ service: 'admin', config: { configured: true }, devices: [thermoDevice] });
    const bus = new EmbeddedBus({ ...ports, logger: captureLogger().logger });
    await bus.start();
    cleanups.push(() => bus.stop());
    await python.waitForPub('plugin.status', (d) => d.event === 'alive', { what: 'alive once the bus is up', timeoutMs: 30_000 });
    await expect.poll(() => host()?.status, { timeout: 10_000 }).toBe('alive');
    // The mapping can load (by the client) a moment before the worker hears the broker's first heartbeat.
    await expect.poll(() => host()?.connected, { timeout: 10_000 }).toBe(true);
    const loud = log.lines.filter((l) => l.level === 'warn' || l.level === 'error');
    expect(loud.map((l) => l.message)).toEqual([]);
    expect(log.lines.some((l) => JSON.stringify(l).includes('"stack"'))).toBe(false);
    expect(log.find(/waiting for the Domogik bus/).length).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
