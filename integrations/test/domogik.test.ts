import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { simulatedDescription } from '@patchbay/driver-sim';
import { repoRoot, tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
// The Domogik adapter's own rig: the Python peer as xplgw and admin on a bus, and a gateway with the simulated device.
import { recordingSim, service, startRig } from '../../packages/adapter-domogik/test/rig.js';
// The adapter's own choice of data type for a described channel, which the package must agree with.
import { dataTypeFor } from '../../packages/adapter-domogik/src/internal.js';
import { ChannelDescriptionSchema } from '@patchbay/core';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const packageDir = join(repoRoot, 'integrations/domogik');
const checker = join(packageDir, 'check_package.py');
const infoPath = join(packageDir, 'info.json');

type Info = {
  identity: Record<string, unknown>;
  configuration: Record<string, unknown>[];
  device_types: Record<string, { sensors: string[]; commands: string[]; parameters: Record<string, unknown>[] }>;
  sensors: Record<string, { data_type: string; history: Record<string, unknown> }>;
  commands: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
};

async function validate(info: unknown): Promise<{ ok: boolean; errors: string[] }> {
  const dir = tempDir('domogik-pkg-');
  try {
    const file = join(dir.path, 'info.json');
    writeFileSync(file, JSON.stringify(info));
    const result = await run(PYTHON, [checker, 'validate', file]).catch((error: { stdout: string }) => error);
    return JSON.parse(result.stdout) as { ok: boolean; errors: string[] };
  } finally {
    dir.remove();
  }
}

const info = (): Info => JSON.parse(readFileSync(infoPath, 'utf8')) as Info;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe('domogik package', () => {
  it('domogik package - info.json passes the rules of Domogik\'s package loader (json_version 2), and the checker fails what Domogik would refuse', async () => {
    expect(await validate(info())).toEqual({ ok: true, errors: [] });
    const broken: [string, (i: Info) => void, RegExp][] = [
      ['an identity without author_email', (i) => delete i.identity.author_email, /key 'author_email' not found in identity/],
      ['an unknown top-level key', (i) => (i.extra = {}), /unknown key 'extra' found in file/],
      ['a sensor of an unknown data type', (i) => ((i.sensors.temperature as { data_type: string }).data_type = 'DT_Celsius'), /sensor temperature: data type DT_Celsius/],
      ['a sensor history without duplicate', (i) => delete i.sensors.relay?.history.duplicate, /key 'duplicate' not found in sensor relay history/],
      ['a device type naming a missing sensor', (i) => i.device_types['patchbay.thermostat']?.sensors.push('pressure'), /sensor pressure is not defined/],
      ['a command routed over xPL', (i) => ((i.commands.relay as Record<string, unknown>).xpl_command = 'set_relay'), /xpl_command set_relay is not defined/],
      ['auto_startup in the configuration', (i) => i.configuration.push({ key: 'auto_startup', name: 'x', description: 'x', type: 'boolean', default: false, required: true }), /auto_startup/],
      ['a device parameter without xpl', (i) => delete i.device_types['patchbay.switch']?.parameters[0]?.xpl, /key 'xpl' not found in a parameter of device_type patchbay.switch/],
      ['json_version 1', (i) => (i.json_version = 1), /json_version must be 2/],
    ];
    for (const [what, mutate, error] of broken) {
      const copy = info();
      mutate(copy);
      const result = await validate(copy);
      expect(result.ok, what).toBe(false);
      expect(result.errors.join('\n'), what).toMatch(error);
    }
  });

  it('domogik package - (18.2, 15.6) the thermostat type matches the simulated device: a sensor per channel with the data type the adapter gives it, a command per writable channel and per action it offers', async () => {
    const sim = simulatedDescription(1000);
    const thermostat = info().device_types['patchbay.thermostat'];
    expect(thermostat?.sensors.sort()).toEqual(Object.keys(sim.channels).sort());
    const writable = Object.entries(sim.channels).filter(([, c]) => c.writable).map(([name]) => name);
    const commands = thermostat?.commands ?? [];
    for (const name of writable) expect(commands, name).toContain(name);
    for (const name of commands) expect(writable.includes(name) || Object.keys(sim.actions ?? {}).includes(name), `${name} is a writable channel or an action`).toBe(true);
    // The data type Domogik stores each channel as is the one the adapter converts its values for.
    for (const [name, channel] of Object.entries(sim.channels)) expect(info().sensors[name]?.data_type, name).toBe(dataTypeFor(ChannelDescriptionSchema.parse(channel)));
    for (const name of writable) expect(info().commands[name]?.parameters, name).toEqual([{ key: 'value', data_type: info().sensors[name]?.data_type, conversion: '' }]);
    // Every data type the adapter can give is one of Domogik's own (datatypes.json, as the checker lists it).
    const known = new Set(JSON.parse((await run(PYTHON, [checker, 'datatypes'])).stdout) as string[]);
    const kinds: Record<string, unknown>[] = [
      { kind: 'boolean' }, { kind: 'boolean', class: 'switch' }, { kind: 'boolean', class: 'door' }, { kind: 'boolean', class: 'motion' }, { kind: 'text' },
      ...['°C', '°F', 'K', 'W', 'mW', 'kW', 'Wh', 'mWh', 'kWh', 'VAh', 'V', 'mV', 'kV', 'A', 'mA', 'kA', 'Pa', 'hPa', 'mbar', 'bar', 'lx', 'm/s', 'km/h', 'ppb', 'L', 'm³', 'kg', '%', 'ppm', 'Hz'].map((unit) => ({ kind: 'number', unit })),
      { kind: 'number', unit: '%', class: 'humidity' }, { kind: 'number', unit: '%', class: 'battery' }, { kind: 'number', unit: 'ppm', class: 'co2' },
    ];
    for (const channel of kinds) expect(known.has(dataTypeFor(ChannelDescriptionSchema.parse(channel)) as string), JSON.stringify(channel)).toBe(true);
    for (const sensor of Object.values(info().sensors)) expect(known.has(sensor.data_type), sensor.data_type).toBe(true);
  });

  it('domogik package - (18.2) a device created from the thermostat type: the mapping Patchbay builds from device.get publishes its sensors and runs its commands (Python peer as xplgw and admin)', async () => {
    const { stdout } = await run(PYTHON, [checker, 'device', infoPath, 'patchbay.thermostat', 'thermo1', '300']);
    const device = JSON.parse(stdout) as { id: number; sensors: Record<string, { id: number }>; commands: Record<string, { id: number }> };
    const sim = recordingSim();
    const r = await startRig(cleanups, { device: sim.definition, admin: { devices: [device] } });
    await r.peer.waitForPub('plugin.status', (d) => d.event === 'alive', { what: 'alive' });
    const ids = Object.fromEntries(Object.entries(device.sensors).map(([ref, s]) => [ref, String(s.id)]));
    await r.peer.waitForPub('client.sensor', (d) => typeof d[ids.temperature as string] === 'number', { what: 'the temperature on its sensor id' });
    await r.peer.waitForPub('client.sensor', (d) => typeof d[ids.humidity as string] === 'number', { what: 'the humidity on its sensor id' });
    await r.peer.waitForPub('client.sensor', (d) => d[ids.relay as string] === 0, { what: 'the relay on its sensor id' });
    // As xplgw sends a DT_Switch: the text "1"; the driver gets true.
    const reply = await r.peer.request({ service, action: 'client.cmd', data: { command_id: device.commands.relay?.id, device_id: device.id, value: '1' }, timeout: 10 });
    expect(reply.data).toMatchObject({ status: true, reason: null });
    await r.peer.waitForPub('client.sensor', (d) => d[ids.relay as string] === 1, { what: 'the relay switched, on its sensor id' });
    // The DT_Trigger press runs the action; its momentary event reaches the DT_String button sensor.
    const press = await r.peer.request({ service, action: 'client.cmd', data: { command_id: device.commands.press?.id, device_id: device.id, value: '1' }, timeout: 10 });
    expect(press.data).toMatchObject({ status: true, reason: null });
    await r.peer.waitForPub('client.sensor', (d) => d[ids.button as string] === 'single', { what: 'the press on the button sensor' });
    expect(sim.sent.map((c) => c.action ?? [c.channel, c.value])).toEqual([['relay', true], 'press']);
  });
});
