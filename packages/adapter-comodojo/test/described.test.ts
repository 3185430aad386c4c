import { captureLogger, FakeDriver, recordingDriver, tempDir } from '@patchbay/testing';
import sim, { simulatedDescription } from '@patchbay/driver-sim';
import { createGateway } from '@patchbay/core';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createComodojoDefinition, type ComodojoAdapter } from '../src/index.js';
import { open, peer, startRig, type Rig } from './helpers.js';

const call = (method: string, params: unknown[] = [], id: unknown = 1) => ({ op: 'call', method, params, id });
const xmlCall = (method: string, params: unknown[] = []) => ({ op: 'call', protocol: 'xml', method, params });

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function rig(options: Parameters<typeof startRig>[0] = {}): Promise<Rig> {
  const r = await startRig(options);
  cleanups.push(() => r.stop());
  return r;
}

describe('comodojo - described devices (15.6): device.describe, a described device.list, signatures and help', () => {
  it('comodojo - (15.6, acceptance 15.4) device.describe through the PHP peer, JSON-RPC and XML-RPC alike: kinds, units, ranges, writability, classes and actions of the sim', async () => {
    const r = await rig();
    const [json, xml, unknown, xmlUnknown] = await peer(r.socket, [call('device.describe', ['thermo1']), xmlCall('device.describe', ['thermo1']), call('device.describe', ['ghost']), xmlCall('device.describe', ['ghost'])]);
    const expected = {
      device: 'thermo1',
      described: true,
      name: 'Simulated thermostat',
      manufacturer: 'Patchbay',
      model: 'sim',
      availability: 'online',
      channels: {
        temperature: { kind: 'number', name: 'Temperature', unit: '°C', class: 'temperature', stateClass: 'measurement', min: -20, max: 50, step: 0.01, writable: false },
        humidity: { kind: 'number', name: 'Humidity', unit: '%', class: 'humidity', stateClass: 'measurement', min: 0, max: 100, step: 0.1, writable: false },
        relay: { kind: 'boolean', name: 'Relay', class: 'switch', writable: true },
        button: { kind: 'event', name: 'Button', class: 'button', writable: false },
      },
      actions: Object.fromEntries(Object.entries(simulatedDescription(1000).actions ?? {}).map(([id, a]) => [id, { name: a.name }])),
    };
    expect(json?.decoded).toEqual({ jsonrpc: '2.0', id: 1, result: expected });
    expect(xml?.xml_error).toBeUndefined();
    expect(xml?.result).toEqual(expected);
    expect(unknown?.decoded?.error).toMatchObject({ code: 4001, message: 'unknown device "ghost"' });
    expect(xmlUnknown?.fault).toMatchObject({ faultCode: 4001, faultString: 'unknown device "ghost"' });
  });

  it('comodojo - (15.6) device.list is described: name, availability, channels and the writable ones, over JSON and XML', async () => {
    const r = await rig();
    const [json, xml] = await peer(r.socket, [call('device.list'), xmlCall('device.list')]);
    const entry = { id: 'thermo1', name: 'Simulated thermostat', driver: 'sim', status: 'alive', availability: 'online', paused: false, described: true, channels: ['temperature', 'humidity', 'relay', 'button'], writable: ['relay'] };
    expect(json?.decoded?.result).toEqual([{ ...entry, lastSeen: expect.any(Number) }]);
    expect(xml?.result).toEqual([{ ...entry, lastSeen: expect.any(Number) }]);
  });

  it('comodojo - (15.6) system.methodSignature and system.methodHelp describe device.describe, device.list and device.command, in JSON and XML', async () => {
    const r = await rig();
    const results = await peer(r.socket, [
      call('system.methodSignature', ['device.describe']),
      xmlCall('system.methodSignature', ['device.describe']),
      call('system.methodSignature', ['device.list']),
      call('system.methodHelp', ['device.describe']),
      xmlCall('system.methodHelp', ['device.list']),
      call('system.methodHelp', ['device.command']),
      call('system.listMethods'),
    ]);
    expect(results[0]?.decoded?.result).toEqual(['struct', 'string']);
    expect(results[1]?.result).toEqual(['struct', 'string']);
    expect(results[2]?.decoded?.result).toEqual(['array']);
    expect(results[3]?.decoded?.result).toMatch(/^What one device is: .*kind is number, boolean, enum, text, json or event.*Error 4001/);
    expect(results[4]?.result).toMatch(/availability.*writable/);
    expect(results[5]?.decoded?.result).toMatch(/4011 read-only channel \(PB211_READ_ONLY\)/);
    expect(results[6]?.decoded?.result).toEqual(expect.arrayContaining(['device.list', 'device.describe', 'device.state', 'device.command']));
  });

  it('comodojo - (15.6) a device whose driver describes nothing lists its channels as kind json, writability unknown', async () => {
    const driver = new FakeDriver();
    let adapter: ComodojoAdapter | undefined;
    const base = createComodojoDefinition();
    const gateway = createGateway({
      devices: [{ id: 'bare', definition: driver.definition }],
      hosts: [{ id: 'rpc', definition: { ...base, create: ((c, ctx) => (adapter = base.create(c, ctx) as ComodojoAdapter)) as typeof base.create }, options: { socket: 'tcp://127.0.0.1:0' } }],
    });
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 100 }));
    await gateway.start();
    await driver.waitRunning();
    driver.emit('level', 3);
    const socket = (adapter as ComodojoAdapter).address() as string;
    await expect.poll(async () => (await peer(socket, [call('device.state', ['bare'])]))[0]?.decoded?.result?.channels).toEqual({ level: 3 });
    const [json, xml] = await peer(socket, [call('device.describe', ['bare']), xmlCall('device.describe', ['bare'])]);
    expect(json?.decoded?.result).toEqual({ device: 'bare', described: false, name: 'bare', availability: 'online', channels: { level: { kind: 'json' } }, actions: {} });
    expect(xml?.result).toMatchObject({ device: 'bare', described: false, channels: { level: { kind: 'json' } } });
  });

  it('comodojo - (15.6, acceptance 15.4) a write to the read-only temperature is refused 4011 with PB211 over JSON and XML, a wrong value 4012 with PB212, and the driver is never called', async () => {
    const recorded = recordingDriver(sim);
    const r = await rig({ device: recorded.definition });
    const [json, xml, wrong, ok] = await peer(r.socket, [
      call('device.command', ['thermo1', 'temperature', 30]),
      xmlCall('device.command', ['thermo1', 'temperature', '30']),
      call('device.command', ['thermo1', 'relay', 'maybe']),
      call('device.command', ['thermo1', 'relay', '1']),
    ]);
    expect(json?.decoded?.error).toEqual({ code: 4011, message: 'PB211_READ_ONLY: channel "temperature" of device "thermo1" is read-only (writable: relay)' });
    expect(xml?.fault).toEqual({ faultCode: 4011, faultString: 'PB211_READ_ONLY: channel "temperature" of device "thermo1" is read-only (writable: relay)', codeIsInt: true });
    expect(wrong?.decoded?.error).toMatchObject({ code: 4012, message: expect.stringMatching(/^PB212_VALUE_INVALID: .*expects a boolean/) });
    // Only the one valid write reached the driver, as a boolean.
    expect(ok?.decoded?.result).toBe(true);
    expect(recorded.sent.map((c) => [c.channel, c.value])).toEqual([['relay', true]]);
  });
});

describe('comodojo - what the host is connected to (14.2) and its socket path (13.12)', () => {
  it('comodojo - (14.2) /healthz counts the open connections: 0 and not connected, then 2, then 0 and, after a grace, not connected', async () => {
    const log = captureLogger();
    const r = await rig({ logger: log.logger });
    const host = () => r.gateway.health().hosts.find((h) => h.id === 'rpc');
    expect(host()).toMatchObject({ connected: false, peers: 0, connection: '0 connections' });
    const a = await open(r.socket);
    const b = await open(r.socket);
    await expect.poll(() => host()?.peers).toBe(2);
    expect(host()).toMatchObject({ status: 'alive', connected: true, connection: '2 connections' });
    a.close();
    b.close();
    // Counted at once; "not connected" only after the grace, so per-call clients do not flap.
    await expect.poll(() => host()?.peers).toBe(0);
    expect(host()?.connected).toBe(true);
    await expect.poll(() => host()?.connected, { timeout: 15_000 }).toBe(false);
    expect(host()?.connection).toBe('0 connections');
    expect(log.find(/host rpc (connected|not connected)/).map((l) => l.message)).toEqual(['host rpc not connected: 0 connections', 'host rpc connected: 1 connection', 'host rpc not connected: 0 connections']);
  });

  it('comodojo - (13.12) a unix:// socket in a missing directory: the directory is created 0700 and the socket answers', async () => {
    const dir = tempDir('pb-comodojo-dir-');
    cleanups.push(() => dir.remove());
    const path = join(dir.path, 'run', 'patchbay', 'daemon.sock');
    const r = await rig({ adapterOptions: { socket: `unix://${path}` } });
    expect(r.gateway.health().hosts.find((h) => h.id === 'rpc')?.status).toBe('alive');
    expect(statSync(join(dir.path, 'run', 'patchbay')).mode & 0o777).toBe(0o700);
    const [echo] = await peer(`unix://${path}`, [call('system.listMethods')]);
    expect(echo?.decoded?.result).toContain('device.describe');
  });

  it('comodojo - (13.12) a directory that cannot be made fails once with the true reason: the host is dead, not restarted, and the gateway keeps serving', async () => {
    const dir = tempDir('pb-comodojo-dir-');
    cleanups.push(() => dir.remove());
    // A regular file where the directory should be (root may write anywhere, so not a permission test).
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir.path, 'run'), 'not a directory');
    const path = join(dir.path, 'run', 'daemon.sock');
    const r = await rig({ adapterOptions: { socket: `unix://${path}` } });
    const host = () => r.gateway.health().hosts.find((h) => h.id === 'rpc');
    expect(host()?.status).toBe('dead');
    expect(host()?.reason).toMatch(/cannot create the directory .*\/run for the comodojo socket unix:\/\/.*: a part of the path exists and is not a directory \((ENOTDIR|EEXIST)\).*This host is not restarted\./);
    expect(host()?.restarts).toBe(0);
    expect(r.gateway.health().devices[0]?.status).toBe('alive');
  });
});
