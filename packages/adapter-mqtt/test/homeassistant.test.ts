/**
 * The acceptance 1, 2, 3 and 5 against Debian's mosquitto and the Home Assistant
 * stand-in (test/peers/homeassistant, on python3-paho-mqtt): discovery of the sim device,
 * Home Assistant restarting, a 10 s broker outage while states and momentary events flow,
 * and malformed commands.
 */
import { createGateway, type Gateway } from '@patchbay/core';
import simDriver from '@patchbay/driver-sim';
import { captureLogger, FakeDriver, type CapturedLogger } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import mqttAdapter from '../src/index.js';
import { HaStandin, type StandinEvent } from './haStandin.js';
import { Mosquitto } from '@patchbay/testing';
import { Peer } from './peer.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

interface World {
  broker: Mosquitto;
  standin: HaStandin;
  gateway: Gateway;
  log: CapturedLogger;
  buttons: FakeDriver;
  thermostat: FakeDriver;
}

const uid = (device: string, id: string) => `gw_mqtt_${device}_${id}`;
const SIM_ENTITIES = ['temperature', 'humidity', 'relay', 'button', 'refresh', 'press', 'mute', 'unmute'].map((id) => uid('thermo1', id));

async function world(): Promise<World> {
  const broker = await Mosquitto.start();
  cleanups.push(() => broker.close());
  const standin = await HaStandin.start(broker.port);
  cleanups.push(() => standin.close());
  const buttons = new FakeDriver('buttons');
  const thermostat = new FakeDriver('thermostat');
  const log = captureLogger();
  const gateway = createGateway({
    name: 'gw',
    devices: [
      { id: 'thermo1', definition: simDriver, options: { interval: 200 } },
      { id: 'btn1', definition: buttons.definition },
      { id: 'heat1', definition: thermostat.definition },
    ],
    hosts: [{ id: 'mqtt', definition: mqttAdapter, options: { url: broker.url, clientId: 'ha-acceptance', reconnectMs: 200 } }],
    logger: log.logger,
    commandTimeoutMs: 3000,
  });
  cleanups.push(() => gateway.stop({ drainTimeoutMs: 500 }));
  await gateway.start();
  await buttons.waitRunning();
  await thermostat.waitRunning();
  buttons.ctx?.describe({ name: 'Buttons', channels: { press: { kind: 'event', class: 'button' } } });
  thermostat.ctx?.describe({ name: 'Heater', channels: { setpoint: { kind: 'number', unit: '°C', class: 'temperature', min: 5, max: 30, step: 0.5, writable: true }, mode: { kind: 'enum', options: ['eco', 'comfort'], writable: true } } });
  return { broker, standin, gateway, log, buttons, thermostat };
}

function configOf(standin: HaStandin, uniqueId: string): StandinEvent | undefined {
  return standin.events.find((e) => e.event === 'config' && e.unique_id === uniqueId);
}

async function waitAvailable(standin: HaStandin, uniqueIds: string[], from = 0): Promise<void> {
  for (const id of uniqueIds) await standin.waitFor((e) => e.event === 'available' && e.unique_id === id && e.available === true, { what: `${id} available`, from });
}

describe('mqtt - Home Assistant (stand-in) against mosquitto', () => {
  it('mqtt acceptance 1 - discovery: every sim channel with the right component, class, unit and availability; the relay switches with replies on the response topic', async () => {
    const { standin } = await world();
    await waitAvailable(standin, SIM_ENTITIES);
    for (const id of SIM_ENTITIES) expect(configOf(standin, id)?.problems, id).toEqual([]);
    expect(standin.events.filter((e) => e.event === 'config' && (e.problems as string[]).length > 0)).toEqual([]);
    const config = (id: string) => configOf(standin, uid('thermo1', id))?.config as Record<string, unknown>;
    expect(configOf(standin, uid('thermo1', 'temperature'))).toMatchObject({ component: 'sensor', config: { device_class: 'temperature', unit_of_measurement: '°C', state_class: 'measurement' } });
    expect(configOf(standin, uid('thermo1', 'humidity'))).toMatchObject({ component: 'sensor', config: { device_class: 'humidity', unit_of_measurement: '%' } });
    expect(configOf(standin, uid('thermo1', 'relay'))).toMatchObject({ component: 'switch', config: { device_class: 'switch', command_topic: 'patchbay/thermo1/relay/set' } });
    expect(configOf(standin, uid('thermo1', 'button'))).toMatchObject({ component: 'event', config: { device_class: 'button' } });
    expect(configOf(standin, uid('thermo1', 'refresh'))).toMatchObject({ component: 'button', config: { command_topic: 'patchbay/thermo1/refresh/set' } });
    expect(config('temperature')).toMatchObject({
      availability_mode: 'all',
      availability: [{ topic: 'patchbay/bridge/state' }, { topic: 'patchbay/thermo1/availability' }],
      device: { identifiers: ['gw_mqtt_thermo1'], name: 'Simulated thermostat', manufacturer: 'Patchbay', model: 'sim', via_device: 'gw_mqtt' },
      origin: { name: 'Patchbay' },
    });
    expect(configOf(standin, 'gw_mqtt_bridge_state')).toMatchObject({ component: 'binary_sensor', problems: [] });
    await standin.waitFor((e) => e.event === 'state' && e.unique_id === uid('thermo1', 'temperature') && typeof e.state === 'number', { what: 'a temperature reading' });
    expect(standin.events.filter((e) => e.event === 'state_error')).toEqual([]);

    expect(await standin.command(uid('thermo1', 'relay'), 'ON')).toEqual({ ok: true, value: true });
    await standin.waitFor((e) => e.event === 'state' && e.unique_id === uid('thermo1', 'relay') && e.state === 'on', { what: 'the relay on' });
    const from = standin.events.length;
    expect(await standin.command(uid('thermo1', 'relay'), 'OFF')).toEqual({ ok: true, value: false });
    await standin.waitFor((e) => e.event === 'state' && e.unique_id === uid('thermo1', 'relay') && e.state === 'off', { what: 'the relay off', from });
    // Each reply came back once, carrying the correlation data of its command.
    const replies = standin.events.filter((e) => e.event === 'reply');
    expect(replies.map((e) => e.id)).toEqual(['c1', 'c2']);
    expect(replies.every((e) => typeof e.correlation === 'string')).toBe(true);
  });

  it('mqtt acceptance 2 - Home Assistant restarts: offline then online on homeassistant/status, and everything is published again within 1 s', async () => {
    const { standin } = await world();
    await waitAvailable(standin, SIM_ENTITIES);
    standin.send({ cmd: 'status', payload: 'offline' });
    await standin.waitFor((e) => e.event === 'status_sent' && e.payload === 'offline', { what: 'offline sent' });
    const from = standin.events.length;
    standin.send({ cmd: 'status', payload: 'online' });
    const online = await standin.waitFor((e) => e.event === 'status_sent' && e.payload === 'online', { what: 'online sent', from });
    const expected = [...SIM_ENTITIES, uid('btn1', 'press'), uid('heat1', 'setpoint'), uid('heat1', 'mode'), 'gw_mqtt_bridge_state'];
    for (const id of expected) {
      const again = await standin.waitFor((e) => e.event === 'config' && e.unique_id === id, { what: `${id} again`, from });
      expect(again.t - online.t, id).toBeLessThan(1);
    }
    // The states came again too (not only because the stand-in subscribed again: they are not retained copies).
    const temperature = await standin.waitFor((e) => e.event === 'state' && e.unique_id === uid('thermo1', 'relay') && e.retained === false, { what: 'the relay state published again', from });
    expect(temperature.t - online.t).toBeLessThan(1);
  });

  it('mqtt acceptance 3 - broker outage of 10 s while states flow: the latest value of every channel, no momentary event lost or duplicated', async () => {
    const { broker, standin, gateway, buttons } = await world();
    await waitAvailable(standin, SIM_ENTITIES);
    // A subscriber with a persistent session counts the momentary events (not retained).
    const counter = await Peer.open(broker.url, ['patchbay/btn1/press/event'], { clientId: 'event-counter', clean: false, properties: { sessionExpiryInterval: 3600 } });
    cleanups.push(() => counter.close());
    let sent = 0;
    const press = () => buttons.ctx?.momentary('press', { n: ++sent });
    press();
    await counter.waitFor((m) => m.text.includes('"n":1'), { what: 'the first event' });
    const ticker = setInterval(press, 250);
    cleanups.push(() => clearInterval(ticker));
    await broker.down();
    await new Promise((resolve) => setTimeout(resolve, 10_000)); // the outage itself
    await broker.up();
    await waitAvailable(standin, [uid('thermo1', 'temperature')], standin.events.length);
    clearInterval(ticker);
    press();
    const last = sent;
    await counter.waitFor((m) => m.text.includes(`"n":${last}}`), { what: 'the last event', timeoutMs: 30_000 });
    const seen = counter.messages.filter((m) => m.topic === 'patchbay/btn1/press/event').map((m) => (JSON.parse(m.text) as { value: { n: number } }).value.n);
    expect(seen).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    // Stop the sim reporting, then the stand-in must hold exactly the gateway's latest values.
    await gateway.submit('mqtt', { device: 'thermo1', action: 'mute' });
    const snapshot = gateway.snapshot().devices.find((d) => d.device === 'thermo1');
    for (const channel of ['temperature', 'humidity']) {
      const latest = snapshot?.channels.find((c) => c.channel === channel)?.value;
      await standin.waitFor((e) => e.event === 'state' && e.unique_id === uid('thermo1', channel) && e.state === latest, { what: `${channel} = ${String(latest)}`, timeoutMs: 30_000 });
    }
  }, 90_000);

  it('mqtt acceptance 5 - malformed /set payloads each get a coded error on the response topic and one log line; the gateway keeps serving', async () => {
    const { standin, log, thermostat } = await world();
    await waitAvailable(standin, [uid('heat1', 'setpoint'), uid('thermo1', 'relay')]);
    const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');
    const cases: [string, string, string][] = [
      ['patchbay/heat1/setpoint/set', hex('warm'), 'PB212_VALUE_INVALID'],
      ['patchbay/heat1/setpoint/set', hex('99'), 'PB212_VALUE_INVALID'],
      ['patchbay/heat1/mode/set', hex('turbo'), 'PB212_VALUE_INVALID'],
      ['patchbay/thermo1/relay/set', hex('maybe'), 'PB212_VALUE_INVALID'],
      ['patchbay/thermo1/temperature/set', hex('21'), 'PB211_READ_ONLY'],
      ['patchbay/heat1/setpoint/set', hex('9'.repeat(70_000)), 'PB206_COMMAND_INVALID'],
      ['patchbay/heat1/setpoint/set', 'c328ff', 'PB206_COMMAND_INVALID'],
    ];
    for (const [topic, payload, code] of cases) {
      const before = log.find(/refused/, 'warn').length;
      const reply = await standin.publishRaw(topic, payload);
      expect(reply, `${topic} ${payload.slice(0, 20)}`).toMatchObject({ ok: false, code, error: expect.any(String) });
      expect(log.find(/refused/, 'warn').length - before).toBe(1);
    }
    expect(log.find(/refused \(PB212_VALUE_INVALID\).*from 5 to 30, got 99/, 'warn')).toHaveLength(1);
    expect(thermostat.commands).toHaveLength(0);
    expect(await standin.command(uid('heat1', 'setpoint'), '21.5')).toEqual({ ok: true, value: 21.5 });
    expect(await standin.command(uid('thermo1', 'relay'), 'ON')).toEqual({ ok: true, value: true });
  });
});
