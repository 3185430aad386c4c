/**
 * Hand-written callback bodies in the shape of the adapter↔plugin contract
 * (packages/adapter-jeedom/README.md, "What goes up"), with cases the real sim does not have
 * (a setpoint slider, a select, a device action the plugin has never seen). What the adapter
 * itself posts for the sim and for a Modbus device is tested in jeedomDaemon.test.ts.
 */

/** The simulated thermostat (driver-sim), as the contract's example describes it. */
export const simDescription = {
  name: 'Simulated thermostat',
  manufacturer: 'Patchbay',
  model: 'sim',
  cmds: [
    { logicalId: 'temperature', name: 'Temperature', type: 'info', subType: 'numeric', unite: '°C', minValue: -40, maxValue: 85, generic_type: 'TEMPERATURE', isHistorized: 1 },
    { logicalId: 'humidity', name: 'Humidity', type: 'info', subType: 'numeric', unite: '%', minValue: 0, maxValue: 100, generic_type: 'HUMIDITY', isHistorized: 1 },
    { logicalId: 'relay', name: 'Relay', type: 'info', subType: 'binary', generic_type: 'ENERGY_STATE' },
    { logicalId: 'relay::on', name: 'Relay on', type: 'action', subType: 'other', generic_type: 'ENERGY_ON', value: 'relay', channel: 'relay', send: true },
    { logicalId: 'relay::off', name: 'Relay off', type: 'action', subType: 'other', generic_type: 'ENERGY_OFF', value: 'relay', channel: 'relay', send: false },
    { logicalId: 'button', name: 'Button', type: 'info', subType: 'string' },
    { logicalId: 'press', name: 'Press', type: 'action', subType: 'other', action: 'press' },
    { logicalId: 'setpoint', name: 'Setpoint state', type: 'info', subType: 'numeric', unite: '°C', generic_type: 'THERMOSTAT_SETPOINT' },
    { logicalId: 'setpoint::set', name: 'Setpoint', type: 'action', subType: 'slider', generic_type: 'THERMOSTAT_SET_SETPOINT', minValue: 5, maxValue: 30, step: 0.5, value: 'setpoint', channel: 'setpoint' },
    { logicalId: 'mode::set', name: 'Mode', type: 'action', subType: 'select', listValue: 'eco|Eco;comfort|Comfort', value: 'mode', channel: 'mode' },
    { logicalId: 'reboot', name: 'Reboot', type: 'action', subType: 'other', action: 'reboot' },
  ],
};

/** A Modbus energy meter as the modbus driver describes one: measurements, a writable holding register and a coil. */
export const modbusDescription = {
  name: 'Energy meter',
  manufacturer: 'Eastron',
  model: 'SDM120',
  firmware: '2.1',
  cmds: [
    { logicalId: 'voltage', name: 'Voltage', type: 'info', subType: 'numeric', unite: 'V', minValue: 0, maxValue: 300, generic_type: 'VOLTAGE', isHistorized: 1 },
    { logicalId: 'power', name: 'Power', type: 'info', subType: 'numeric', unite: 'W', generic_type: 'POWER', isHistorized: 1 },
    { logicalId: 'energy', name: 'Energy', type: 'info', subType: 'numeric', unite: 'kWh', generic_type: 'CONSUMPTION', isHistorized: 1 },
    { logicalId: 'demand_period', name: 'Demand period', type: 'info', subType: 'numeric', unite: 'min' },
    { logicalId: 'demand_period::set', name: 'Set demand period', type: 'action', subType: 'slider', minValue: 0, maxValue: 60, step: 5, value: 'demand_period', channel: 'demand_period' },
    { logicalId: 'output', name: 'Output', type: 'info', subType: 'binary', generic_type: 'ENERGY_STATE' },
    { logicalId: 'output::on', name: 'Output on', type: 'action', subType: 'other', generic_type: 'ENERGY_ON', value: 'output', channel: 'output', send: true },
    { logicalId: 'output::off', name: 'Output off', type: 'action', subType: 'other', generic_type: 'ENERGY_OFF', value: 'output', channel: 'output', send: false },
  ],
};

/** A button: a momentary channel (kind event). */
export const buttonDescription = {
  name: 'Button',
  cmds: [{ logicalId: 'press', name: 'Press', type: 'info', subType: 'string' }],
};

/** One body with every key the contract merges into a cycle. */
export function mergedBody(replyId: string) {
  return {
    descriptions: { thermo1: simDescription, meter1: modbusDescription, btn1: buttonDescription },
    devices: { thermo1: { temperature: 21.5, humidity: 40, relay: true }, meter1: { voltage: 231.4, power: 120, energy: 1530.25, output: false } },
    availability: { thermo1: { state: 'online', lastSeen: 1733130000000 }, meter1: { state: 'stale', lastSeen: 1733129000000 } },
    // The same press twice: two events, not one change.
    events: [
      { device: 'btn1', channel: 'press', value: 'single', time: 1733130000000 },
      { device: 'btn1', channel: 'press', value: 'single', time: 1733130001000 },
    ],
    replies: { [replyId]: { ok: false, error: 'channel humidity is read-only', code: 'PB211_READ_ONLY' } },
    status: { thermo1: 'alive', jeedom: 'alive' },
  };
}
