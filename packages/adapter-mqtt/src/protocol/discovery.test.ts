import { describe, expect, it } from 'vitest';
import type { DeviceInfoDescription } from './description.js';
import { bridgeDiscovery, deviceDiscovery, discoveryFilter, nodeIdFor, objectId, type DiscoveryContext } from './discovery.js';
import { Topics } from './topics.js';

const ctx: DiscoveryContext = { prefix: 'homeassistant', nodeId: 'patchbay_mqtt', gatewayName: 'patchbay', topics: new Topics('patchbay'), booleans: 'ON/OFF', version: '0.1.0' };

const thermostat: DeviceInfoDescription = {
  name: 'Simulated thermostat',
  manufacturer: 'Patchbay',
  model: 'sim',
  firmware: '1.2',
  channels: {
    temperature: { kind: 'number', unit: '°C', class: 'temperature', stateClass: 'measurement', writable: false },
    humidity: { kind: 'number', unit: '%', class: 'humidity', writable: false },
    relay: { kind: 'boolean', class: 'switch', writable: true },
    door: { kind: 'boolean', class: 'door', writable: false },
    setpoint: { kind: 'number', unit: '°C', class: 'temperature', min: 5, max: 30, step: 0.5, writable: true },
    mode: { kind: 'enum', options: ['eco', 'comfort'], writable: true },
    tariff: { kind: 'enum', options: ['HP', 'HC'], class: 'tariff', writable: false },
    press: { kind: 'event', options: ['single', 'double'], class: 'button', writable: false },
    energy: { kind: 'number', unit: 'kWh', class: 'energy', writable: false },
    odd: { kind: 'number', unit: 'furlongs', class: 'temperature', writable: false },
    blob: { kind: 'json', writable: false },
  },
  actions: { reboot: { name: 'Reboot' } },
};

describe('Home Assistant discovery', () => {
  const messages = deviceDiscovery('thermo1', thermostat, ctx);
  const byId = (id: string) => messages.find((m) => m.payload.unique_id === `patchbay_mqtt_thermo1_${id}`);

  it('discovery - one component per channel kind, with classes, units and state classes', () => {
    expect(byId('temperature')).toMatchObject({
      topic: 'homeassistant/sensor/patchbay_mqtt/thermo1_temperature/config',
      payload: { device_class: 'temperature', unit_of_measurement: '°C', state_class: 'measurement', state_topic: 'patchbay/thermo1/temperature' },
    });
    expect(byId('humidity')?.payload).toMatchObject({ device_class: 'humidity', unit_of_measurement: '%', state_class: 'measurement' });
    expect(byId('relay')).toMatchObject({
      component: 'switch',
      payload: { command_topic: 'patchbay/thermo1/relay/set', state_topic: 'patchbay/thermo1/relay', payload_on: 'ON', payload_off: 'OFF', state_on: 'ON', state_off: 'OFF', device_class: 'switch' },
    });
    expect(byId('door')).toMatchObject({ component: 'binary_sensor', payload: { device_class: 'door', payload_on: 'ON' } });
    expect(byId('setpoint')).toMatchObject({ component: 'number', payload: { min: 5, max: 30, step: 0.5, command_topic: 'patchbay/thermo1/setpoint/set', device_class: 'temperature' } });
    expect(byId('mode')).toMatchObject({ component: 'select', payload: { options: ['eco', 'comfort'], command_topic: 'patchbay/thermo1/mode/set' } });
    expect(byId('tariff')).toMatchObject({ component: 'sensor', payload: { device_class: 'enum', options: ['HP', 'HC'] } });
    expect(byId('tariff')?.payload.state_class).toBeUndefined();
    expect(byId('press')).toMatchObject({ component: 'event', payload: { state_topic: 'patchbay/thermo1/press/event', event_types: ['single', 'double'], device_class: 'button' } });
    expect(byId('reboot')).toMatchObject({ component: 'button', payload: { name: 'Reboot', command_topic: 'patchbay/thermo1/reboot/set' } });
    expect(byId('blob')).toBeUndefined();
  });

  it('discovery - Home Assistant rules: energy is never a measurement, a unit that does not fit drops the class', () => {
    expect(byId('energy')?.payload).toMatchObject({ device_class: 'energy', unit_of_measurement: 'kWh' });
    expect(byId('energy')?.payload.state_class).toBeUndefined();
    expect(byId('odd')?.payload.device_class).toBeUndefined();
    expect(byId('odd')?.payload.unit_of_measurement).toBe('furlongs');
  });

  it('discovery - every entity has the device block, availability (mode all) and origin', () => {
    for (const m of messages) {
      expect(m.payload).toMatchObject({
        device: { identifiers: ['patchbay_mqtt_thermo1'], name: 'Simulated thermostat', manufacturer: 'Patchbay', model: 'sim', sw_version: '1.2', via_device: 'patchbay_mqtt' },
        availability: [{ topic: 'patchbay/bridge/state' }, { topic: 'patchbay/thermo1/availability' }],
        availability_mode: 'all',
        origin: { name: 'Patchbay', sw_version: '0.1.0' },
      });
      expect(m.topic).toMatch(/^homeassistant\/[a-z_]+\/patchbay_mqtt\/[a-zA-Z0-9_-]+\/config$/);
    }
  });

  it('discovery - unique ids and topics are stable: the same description gives the same messages', () => {
    expect(deviceDiscovery('thermo1', thermostat, ctx)).toEqual(messages);
    expect(new Set(messages.map((m) => m.payload.unique_id)).size).toBe(messages.length);
  });

  it('discovery - object ids never collide and keep to [a-zA-Z0-9_-]', () => {
    expect(objectId('a_b', 'c')).not.toBe(objectId('a', 'b_c'));
    expect(objectId('tête', 'c')).toMatch(/^t_te_c_[0-9a-f]{8}$/);
    expect(nodeIdFor('my gw', 'mqtt')).toBe('my_gw_mqtt');
    expect(discoveryFilter('homeassistant', 'patchbay_mqtt')).toBe('homeassistant/+/patchbay_mqtt/+/config');
  });

  it('discovery - the bridge is a connectivity sensor on the bridge state, the device every entity is via', () => {
    expect(bridgeDiscovery(ctx)).toMatchObject({
      topic: 'homeassistant/binary_sensor/patchbay_mqtt/bridge/config',
      payload: { state_topic: 'patchbay/bridge/state', payload_on: 'online', payload_off: 'offline', device_class: 'connectivity', device: { identifiers: ['patchbay_mqtt'] } },
    });
  });
});
