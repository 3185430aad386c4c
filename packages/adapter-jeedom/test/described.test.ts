import { DeviceDescriptionSchema, type DeviceDescriptionInput } from '@patchbay/core';
import { simulatedDescription } from '@patchbay/driver-sim';
import { describe, expect, it } from 'vitest';
import { jeedomDevice, JEEDOM_GENERIC_TYPES, type JeedomCmd } from '../src/internal.js';
import { PhpCallback, sendRaw, type CallbackRecord } from './peer.js';
import { APIKEY, rigAndPeer, startRig } from './rig.js';

type Decoded = {
  descriptions?: Record<string, { name: string; cmds: JeedomCmd[] } & Record<string, unknown>>;
  availability?: Record<string, { state: string; lastSeen: number | null; reason?: string }>;
  events?: { device: string; channel: string; value: unknown; time: number }[];
  replies?: Record<string, { ok: boolean; value?: unknown; error?: string; code?: string }>;
};
const decoded = (r: CallbackRecord): Decoded => (r.decoded ?? {}) as Decoded;

function command(fields: Record<string, unknown>): string {
  return JSON.stringify({ action: 'command', device: 'dev1', channel: 'relay', ...fields, apikey: APIKEY });
}

/** The sim's rows as a Jeedom plugin creates them: what the plugin's `descriptions` key carries. */
const SIM_ROWS: JeedomCmd[] = [
  { logicalId: 'temperature', name: 'Temperature', type: 'info', subType: 'numeric', unite: '°C', minValue: -20, maxValue: 50, generic_type: 'TEMPERATURE', isHistorized: 1 },
  { logicalId: 'humidity', name: 'Humidity', type: 'info', subType: 'numeric', unite: '%', minValue: 0, maxValue: 100, generic_type: 'HUMIDITY', isHistorized: 1 },
  { logicalId: 'relay', name: 'Relay', type: 'info', subType: 'binary', generic_type: 'ENERGY_STATE' },
  // BUTTON is for binary/numeric infos in Jeedom's list; the sim's presses are strings ("single").
  { logicalId: 'button', name: 'Button', type: 'info', subType: 'string', momentary: true },
  { logicalId: 'relay::on', name: 'Relay On', type: 'action', subType: 'other', generic_type: 'ENERGY_ON', value: 'relay', channel: 'relay', send: true },
  { logicalId: 'relay::off', name: 'Relay Off', type: 'action', subType: 'other', generic_type: 'ENERGY_OFF', value: 'relay', channel: 'relay', send: false },
  { logicalId: 'refresh', name: 'Report every channel now', type: 'action', subType: 'other', action: 'refresh' },
  { logicalId: 'press', name: 'Press the button', type: 'action', subType: 'other', action: 'press' },
  { logicalId: 'mute', name: 'Stop reporting (to see the device go stale)', type: 'action', subType: 'other', action: 'mute' },
  { logicalId: 'unmute', name: 'Report again', type: 'action', subType: 'other', action: 'unmute' },
];

/** A Modbus energy meter as driver-modbus describes one (kinds, units, classes, ranges from its register map). */
const METER: DeviceDescriptionInput = {
  name: 'Energy meter',
  manufacturer: 'Eastron',
  model: 'SDM120',
  channels: {
    voltage: { kind: 'number', unit: 'V', class: 'voltage', stateClass: 'measurement' },
    current: { kind: 'number', unit: 'A', class: 'current', stateClass: 'measurement' },
    power: { kind: 'number', unit: 'W', class: 'power', stateClass: 'measurement' },
    energy: { kind: 'number', unit: 'kWh', class: 'energy', stateClass: 'total_increasing' },
    setpoint: { kind: 'number', unit: '°C', class: 'temperature', writable: true, min: 5, max: 30, step: 0.5 },
    mode: { kind: 'enum', options: ['off', 'eco', 'comfort'], writable: true },
    pump: { kind: 'boolean', class: 'switch', writable: true },
    alarm: { kind: 'boolean', class: 'smoke' },
  },
  actions: { refresh: {} },
};

describe('jeedom - described devices (15.6)', () => {
  const t = rigAndPeer();

  it('jeedom - (15.6) the sim device becomes the rows a Jeedom plugin creates: info/action, subType, unit, min/max, generic types from the class', () => {
    const device = jeedomDevice(DeviceDescriptionSchema.parse(simulatedDescription(1000)));
    expect({ ...device, cmds: undefined }).toEqual({ name: 'Simulated thermostat', manufacturer: 'Patchbay', model: 'sim', cmds: undefined });
    expect(device.cmds).toEqual(SIM_ROWS);
  });

  it('jeedom - (15.6) a Modbus meter: units and generic types per class, a setpoint slider with its range and step, an enum select, a coil as on/off', () => {
    const { cmds } = jeedomDevice(DeviceDescriptionSchema.parse(METER));
    const by = (id: string) => cmds.find((c) => c.logicalId === id);
    expect(by('voltage')).toMatchObject({ type: 'info', subType: 'numeric', unite: 'V', generic_type: 'VOLTAGE', isHistorized: 1 });
    // Jeedom has no generic type for a current: none rather than a wrong one.
    expect(by('current')).toEqual({ logicalId: 'current', name: 'current', type: 'info', subType: 'numeric', unite: 'A', isHistorized: 1 });
    expect(by('power')?.generic_type).toBe('POWER');
    expect(by('energy')).toMatchObject({ unite: 'kWh', generic_type: 'CONSUMPTION' });
    expect(by('setpoint')).toMatchObject({ generic_type: 'THERMOSTAT_SETPOINT', minValue: 5, maxValue: 30 });
    expect(by('setpoint::set')).toEqual({ logicalId: 'setpoint::set', name: 'setpoint set', type: 'action', subType: 'slider', unite: '°C', minValue: 5, maxValue: 30, step: 0.5, generic_type: 'THERMOSTAT_SET_SETPOINT', value: 'setpoint', channel: 'setpoint' });
    expect(by('mode')).toMatchObject({ type: 'info', subType: 'string' });
    expect(by('mode::set')).toMatchObject({ type: 'action', subType: 'select', listValue: 'off|off;eco|eco;comfort|comfort', channel: 'mode' });
    expect(by('pump::on')).toMatchObject({ generic_type: 'ENERGY_ON', send: true });
    expect(by('alarm')).toMatchObject({ subType: 'binary', generic_type: 'SMOKE' });
    expect(by('alarm::on')).toBeUndefined();
    expect(by('refresh')).toMatchObject({ type: 'action', subType: 'other', action: 'refresh' });
  });

  it('jeedom - (15.6) every generic type given is one Jeedom lists, for that cmd type and subType; every class maps to one or to none', () => {
    const classes = ['temperature', 'humidity', 'pressure', 'power', 'apparent_power', 'energy', 'voltage', 'current', 'frequency', 'illuminance', 'co2', 'battery', 'signal_strength', 'duration', 'monetary', 'switch', 'button', 'door', 'window', 'motion', 'occupancy', 'smoke', 'moisture', 'lock', 'light', 'tariff', 'generic'] as const;
    const channels: Record<string, unknown> = {};
    for (const cls of classes) {
      for (const writable of [false, true]) {
        channels[`${cls}-n-${writable}`] = { kind: 'number', class: cls, writable };
        channels[`${cls}-b-${writable}`] = { kind: 'boolean', class: cls, writable };
      }
    }
    const { cmds } = jeedomDevice(DeviceDescriptionSchema.parse({ name: 'all', channels, actions: { reboot: {} } }));
    const typed = cmds.filter((c) => c.generic_type !== undefined);
    expect(typed.length).toBeGreaterThan(30);
    for (const cmd of typed) {
      const known = JEEDOM_GENERIC_TYPES[cmd.generic_type as string];
      expect(known, cmd.generic_type).toBeDefined();
      expect([known?.type, known?.subTypes.includes(cmd.subType)], `${cmd.logicalId}: ${cmd.generic_type}`).toEqual([cmd.type, true]);
    }
    expect(cmds.find((c) => c.logicalId === 'reboot')?.generic_type).toBe('REBOOT');
  });

  it('jeedom - (15.6) the callback gets the description at start and again when it changes, and availability', async () => {
    const peer = (t.peer = await PhpCallback.start());
    const rig = (t.rig = await startRig({ callback: peer.url, cycle: 0 }));
    const ctx = rig.driver.ctx;
    ctx?.describe({ name: 'Meter', channels: { power: { kind: 'number', unit: 'W', class: 'power' } } });
    const first = await peer.waitFor((rs) => rs.map((r) => decoded(r).descriptions?.dev1).find((d) => d !== undefined), 'the description');
    expect(first).toEqual({ name: 'Meter', cmds: [{ logicalId: 'power', name: 'power', type: 'info', subType: 'numeric', unite: 'W', generic_type: 'POWER' }] });
    ctx?.describe({ name: 'Meter', model: 'M2', channels: { power: { kind: 'number', unit: 'W', class: 'power' }, relay: { kind: 'boolean', class: 'switch', writable: true } } });
    const second = await peer.waitFor((rs) => rs.map((r) => decoded(r).descriptions?.dev1).find((d) => d?.model === 'M2'), 'the changed description');
    expect(second.cmds.map((c) => c.logicalId)).toEqual(['power', 'relay', 'relay::on', 'relay::off']);
    rig.driver.emit('power', 12);
    await peer.waitFor((rs) => rs.map((r) => decoded(r).availability?.dev1).find((a) => a?.state === 'online'), 'availability online');
    ctx?.availability('offline', 'cable pulled');
    const offline = await peer.waitFor((rs) => rs.map((r) => decoded(r).availability?.dev1).find((a) => a?.state === 'offline'), 'availability offline');
    expect(offline).toEqual({ state: 'offline', reason: 'cable pulled', lastSeen: expect.any(Number) });
  });

  it('jeedom - (15.6) {"action":"refresh"} posts the description and availability too, before the values, in one body', async () => {
    const peer = (t.peer = await PhpCallback.start());
    const rig = (t.rig = await startRig({ callback: peer.url, cycle: 0.05 }));
    rig.driver.ctx?.describe({ name: 'Meter', channels: { power: { kind: 'number', unit: 'W', class: 'power' } } });
    rig.driver.emit('power', 7);
    await peer.waitFor((rs) => rs.find((r) => decoded(r).descriptions?.dev1), 'the description');
    const before = peer.posts().length;
    await sendRaw(rig.port(), JSON.stringify({ action: 'refresh', apikey: APIKEY }));
    const post = await peer.waitFor((rs) => rs.filter((r) => r.method === 'POST').slice(before).find((r) => decoded(r).descriptions?.dev1), 'the refresh POST');
    expect(Object.keys(post.decoded as object).slice(0, 2)).toEqual(['descriptions', 'availability']);
    expect(decoded(post).descriptions?.dev1?.cmds.map((c) => c.logicalId)).toEqual(['power']);
    expect(decoded(post).availability?.dev1?.state).toBe('online');
    expect((post.decoded as { devices: unknown }).devices).toEqual({ dev1: { power: 7 } });
  });

  it('jeedom - (15.6) momentary events go up as `events`, in order, never coalesced: three presses in one cycle are three entries, and presses while the callback is down all arrive', async () => {
    const peer = (t.peer = await PhpCallback.start());
    const rig = (t.rig = await startRig({ callback: peer.url, cycle: 0.3, http: { retryDelayMs: 50 } }));
    const ctx = rig.driver.ctx;
    ctx?.describe({ name: 'Button', channels: { press: { kind: 'event', class: 'button' } } });
    for (const value of ['single', 'single', 'double']) ctx?.momentary('press', value);
    const events = () => peer.posts().flatMap((r) => (r.answered === 200 ? (decoded(r).events ?? []) : []));
    await peer.waitFor(() => (events().length >= 3 ? true : undefined), 'three presses');
    expect(events().map((e) => e.value)).toEqual(['single', 'single', 'double']);
    expect(events()[0]).toEqual({ device: 'dev1', channel: 'press', value: 'single', time: expect.any(Number) });
    // All three in one POST: the cycle merged them as a list, not as one latest value.
    expect(peer.posts().filter((r) => (decoded(r).events ?? []).length === 3)).toHaveLength(1);

    // The peer has answered; the gateway must have read the answer too before the peer goes, or it
    // sends the presses again (it cannot tell an answer lost with the connection from none).
    await expect.poll(() => rig.gateway.health().hosts.find((h) => h.id === 'jeedom')?.queued, { timeout: 10_000 }).toBe(0);
    await peer.stop();
    for (let i = 0; i < 20; i++) ctx?.momentary('press', i);
    await peer.restart();
    await peer.waitFor(() => (events().length >= 23 ? true : undefined), 'twenty more presses', 20_000);
    expect(events().slice(3).map((e) => e.value)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('jeedom - (15.6) `deviceAction` from the plugin becomes the device action; a message naming both an action and a channel gets a coded refusal', async () => {
    const peer = (t.peer = await PhpCallback.start());
    const rig = (t.rig = await startRig({ callback: peer.url, cycle: 0 }));
    await sendRaw(rig.port(), JSON.stringify({ action: 'command', device: 'dev1', deviceAction: 'reboot', id: 'r1', apikey: APIKEY }));
    const [received] = await rig.waitCommands(1);
    expect(received).toMatchObject({ device: 'dev1', action: 'reboot', ref: 'r1' });
    expect(received?.channel).toBeUndefined();
    await peer.waitFor((rs) => rs.map((r) => decoded(r).replies?.r1).find((x) => x?.ok), 'the reply to r1');
    await sendRaw(rig.port(), JSON.stringify({ action: 'command', device: 'dev1', deviceAction: 'reboot', channel: 'relay', value: 1, id: 'r2', apikey: APIKEY }));
    const refused = await peer.waitFor((rs) => rs.map((r) => decoded(r).replies?.r2).find((x) => x !== undefined), 'the reply to r2');
    expect(refused).toMatchObject({ ok: false, code: 'PB206_COMMAND_INVALID' });
    expect(rig.commands).toHaveLength(1);
  });
});

describe('jeedom - replies and connection', () => {
  const t = rigAndPeer();

  it('jeedom - (14.8) a failed reply carries its code: read-only channel, unknown device, the device\'s own failure', async () => {
    const peer = (t.peer = await PhpCallback.start());
    const rig = (t.rig = await startRig({ callback: peer.url, cycle: 0 }, { answer: (c) => (c.channel === 'broken' ? { ok: false, error: 'jammed', code: 'E_JAM' } : { ok: true, value: c.value ?? null }) }));
    rig.driver.ctx?.describe({ name: 'd', channels: { temperature: { kind: 'number' }, broken: { kind: 'number', writable: true } } });
    await sendRaw(rig.port(), command({ channel: 'temperature', value: 3, id: 'ro' }));
    await sendRaw(rig.port(), command({ device: 'nope', value: 3, id: 'unknown' }));
    await sendRaw(rig.port(), command({ channel: 'broken', value: 3, id: 'dev' }));
    const replies = await peer.waitFor((rs) => {
      const all = Object.assign({}, ...rs.map((r) => decoded(r).replies ?? {})) as NonNullable<Decoded['replies']>;
      return all.ro && all.unknown && all.dev ? all : undefined;
    }, 'three replies');
    expect(replies.ro).toMatchObject({ ok: false, code: 'PB211_READ_ONLY', error: expect.stringContaining('read-only') });
    expect(replies.unknown).toMatchObject({ ok: false, code: expect.stringMatching(/^PB2\d\d_UNKNOWN_DEVICE$/) });
    expect(replies.dev).toMatchObject({ ok: false, code: 'E_JAM', error: 'jammed' });
  });

  it('jeedom - (14.2) /healthz says whether the callback answers, apart from alive', async () => {
    const peer = (t.peer = await PhpCallback.start());
    const rig = (t.rig = await startRig({ callback: peer.url, cycle: 0, http: { retryDelayMs: 50 } }));
    const jeedom = () => rig.gateway.health().hosts.find((h) => h.id === 'jeedom');
    expect(jeedom()).toMatchObject({ connected: true, connection: 'callback answers' });
    await peer.stop();
    rig.driver.emit('temperature', 1);
    await rig.logger.waitFor(/host jeedom not connected: callback unreachable/, { level: 'info' });
    expect(jeedom()).toMatchObject({ connected: false, connection: expect.stringMatching(/^callback unreachable: /) });
    await peer.restart();
    // The second such line: the first came with the start-up GET.
    await rig.logger.changed.waitUntil(() => (rig.logger.find(/host jeedom connected: callback answers/, 'info').length >= 2 ? true : undefined), { what: 'connected again', timeoutMs: 20_000 });
    expect(jeedom()?.connected).toBe(true);
  });

  it('jeedom - (14.2) without a callback the host is not connected', async () => {
    const rig = (t.rig = await startRig({}));
    expect(rig.gateway.health().hosts.find((h) => h.id === 'jeedom')).toMatchObject({ connected: false, connection: 'no callback: commands only, nothing goes up' });
  });
});
