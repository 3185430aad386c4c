import type { ChannelClass, ChannelDescription, DeviceDescription, JsonValue } from '@patchbay/core';

/** A Jeedom cmd as the plugin creates it from a description (the `descriptions` callback key). */
export interface JeedomCmd {
  /** The channel for an info (so `devices` values find it), `<channel>::on|off|set` or the action's name for an action. */
  logicalId: string;
  name: string;
  type: 'info' | 'action';
  subType: 'numeric' | 'binary' | 'string' | 'other' | 'slider' | 'select';
  unite?: string;
  minValue?: number;
  maxValue?: number;
  step?: number;
  /** A select's `value|label;value|label` list. */
  listValue?: string;
  generic_type?: string;
  /** Infos with a state class: Jeedom keeps their history. */
  isHistorized?: 1;
  /** Infos of a momentary channel: every event counts, even the same value again. */
  momentary?: true;
  /** Actions: the logicalId of the info that shows their state. */
  value?: string;
  /** Actions on a channel: the channel written. */
  channel?: string;
  /** Buttons on a channel (`other`): the value they write. */
  send?: JsonValue;
  /** Actions that are device actions: the action's name (the plugin sends it as `deviceAction`). */
  action?: string;
}

/** A device as the plugin creates it: one eqLogic, its cmds. */
export interface JeedomDevice {
  name: string;
  manufacturer?: string;
  model?: string;
  firmware?: string;
  cmds: JeedomCmd[];
}

type Sub = JeedomCmd['subType'];

/**
 * Jeedom's generic types used here, each with the cmd type and subTypes Jeedom allows for it,
 * as jeedom/core `core/config/jeedom.config.php` (`$JEEDOM_INTERNAL_CONFIG['cmd']['generic_type']`)
 * lists them. A mapping below that names a type missing here, or gives it a subType Jeedom does
 * not list for it, is left without a generic type (and fails the adapter's tests).
 */
export const JEEDOM_GENERIC_TYPES: Readonly<Record<string, { type: 'info' | 'action'; subTypes: readonly Sub[] }>> = {
  TEMPERATURE: { type: 'info', subTypes: ['numeric'] },
  HUMIDITY: { type: 'info', subTypes: ['numeric'] },
  PRESSURE: { type: 'info', subTypes: ['numeric'] },
  POWER: { type: 'info', subTypes: ['numeric'] },
  CONSUMPTION: { type: 'info', subTypes: ['numeric'] },
  VOLTAGE: { type: 'info', subTypes: ['numeric'] },
  BRIGHTNESS: { type: 'info', subTypes: ['numeric'] },
  CO2: { type: 'info', subTypes: ['numeric'] },
  BATTERY: { type: 'info', subTypes: ['numeric'] },
  BATTERY_CHARGING: { type: 'info', subTypes: ['binary'] },
  ENERGY_STATE: { type: 'info', subTypes: ['numeric', 'binary'] },
  ENERGY_ON: { type: 'action', subTypes: ['other'] },
  ENERGY_OFF: { type: 'action', subTypes: ['other'] },
  ENERGY_SLIDER: { type: 'action', subTypes: ['slider'] },
  LIGHT_STATE: { type: 'info', subTypes: ['binary', 'numeric'] },
  LIGHT_ON: { type: 'action', subTypes: ['other'] },
  LIGHT_OFF: { type: 'action', subTypes: ['other'] },
  LIGHT_SLIDER: { type: 'action', subTypes: ['slider'] },
  LIGHT_BRIGHTNESS: { type: 'info', subTypes: ['numeric'] },
  LOCK_STATE: { type: 'info', subTypes: ['binary'] },
  LOCK_OPEN: { type: 'action', subTypes: ['other'] },
  LOCK_CLOSE: { type: 'action', subTypes: ['other'] },
  OPENING: { type: 'info', subTypes: ['binary'] },
  OPENING_WINDOW: { type: 'info', subTypes: ['binary'] },
  PRESENCE: { type: 'info', subTypes: ['binary'] },
  SMOKE: { type: 'info', subTypes: ['binary'] },
  FLOOD: { type: 'info', subTypes: ['binary'] },
  BUTTON: { type: 'info', subTypes: ['binary', 'numeric'] },
  THERMOSTAT_SETPOINT: { type: 'info', subTypes: ['numeric'] },
  THERMOSTAT_SET_SETPOINT: { type: 'action', subTypes: ['slider'] },
  HUMIDITY_SET_SETPOINT: { type: 'action', subTypes: ['slider'] },
  REBOOT: { type: 'action', subTypes: ['other'] },
};

/** The generic types of a channel's info and of its actions, by class (and whether it is written). */
interface Generics {
  info?: string;
  on?: string;
  off?: string;
  set?: string;
}

/** Read-only readings: the info's generic type by class. No entry: Jeedom has no type for it (current, frequency...). */
const READING: Partial<Record<ChannelClass, string>> = {
  temperature: 'TEMPERATURE',
  humidity: 'HUMIDITY',
  pressure: 'PRESSURE',
  power: 'POWER',
  // Jeedom has no type for VA: an apparent power is still what a power widget shows.
  apparent_power: 'POWER',
  energy: 'CONSUMPTION',
  voltage: 'VOLTAGE',
  illuminance: 'BRIGHTNESS',
  co2: 'CO2',
  battery: 'BATTERY',
  door: 'OPENING',
  window: 'OPENING_WINDOW',
  motion: 'PRESENCE',
  occupancy: 'PRESENCE',
  smoke: 'SMOKE',
  moisture: 'FLOOD',
  button: 'BUTTON',
  switch: 'ENERGY_STATE',
  light: 'LIGHT_STATE',
  lock: 'LOCK_STATE',
};

/** Written channels: a switch is an outlet (ENERGY_*), a light a light, a lock a lock, a temperature a setpoint. */
function generics(channel: ChannelDescription): Generics {
  const cls = channel.class;
  if (!channel.writable) return { info: cls === undefined ? undefined : READING[cls] };
  if (channel.kind === 'boolean') {
    if (cls === 'switch') return { info: 'ENERGY_STATE', on: 'ENERGY_ON', off: 'ENERGY_OFF' };
    if (cls === 'light') return { info: 'LIGHT_STATE', on: 'LIGHT_ON', off: 'LIGHT_OFF' };
    // true = locked, as a lock's state reads in Jeedom (LOCK_STATE 1 = closed).
    if (cls === 'lock') return { info: 'LOCK_STATE', on: 'LOCK_CLOSE', off: 'LOCK_OPEN' };
  }
  if (channel.kind === 'number') {
    if (cls === 'temperature') return { info: 'THERMOSTAT_SETPOINT', set: 'THERMOSTAT_SET_SETPOINT' };
    if (cls === 'humidity') return { set: 'HUMIDITY_SET_SETPOINT' };
    if (cls === 'switch') return { info: 'ENERGY_STATE', set: 'ENERGY_SLIDER' };
    if (cls === 'light') return { info: 'LIGHT_BRIGHTNESS', set: 'LIGHT_SLIDER' };
  }
  return { info: cls === undefined ? undefined : READING[cls] };
}

/** `name` when Jeedom lists it for this cmd type and subType, else nothing. */
function checked(name: string | undefined, type: JeedomCmd['type'], subType: Sub): string | undefined {
  if (name === undefined) return undefined;
  const known = JEEDOM_GENERIC_TYPES[name];
  return known !== undefined && known.type === type && known.subTypes.includes(subType) ? name : undefined;
}

const INFO_SUBTYPE: Record<ChannelDescription['kind'], Sub> = { number: 'numeric', boolean: 'binary', enum: 'string', text: 'string', json: 'string', event: 'string' };

/**
 * Jeedom's `|` and `;` separate a select's entries and have no escape: an option that holds
 * one cannot be listed, and the select is left out rather than sent wrong.
 */
const LIST_SEPARATOR = /[|;]/;

/**
 * What the plugin creates for one described device (BRIEF contract, `descriptions`): an info
 * per channel (logicalId = the channel, so the `devices` values find it), then for a written
 * channel its actions: a boolean gets `::on`/`::off` buttons, a number a `::set` slider with
 * the range and step, an enum a `::set` select. Each device action is an `other` button that
 * sends `deviceAction`. Written text and JSON channels get no action: the contract has no
 * `message` subType. A logicalId already taken (a channel named `x::on` beside a boolean `x`)
 * keeps its first cmd.
 */
export function jeedomDevice(description: DeviceDescription): JeedomDevice {
  const cmds: JeedomCmd[] = [];
  const taken = new Set<string>();
  const push = (cmd: JeedomCmd): void => {
    if (taken.has(cmd.logicalId)) return;
    taken.add(cmd.logicalId);
    cmds.push(cmd);
  };
  const actions: JeedomCmd[] = [];
  for (const [id, channel] of Object.entries(description.channels)) {
    const name = channel.name ?? id;
    const types = generics(channel);
    const subType = INFO_SUBTYPE[channel.kind];
    const info: JeedomCmd = { logicalId: id, name, type: 'info', subType };
    if (channel.unit !== undefined) info.unite = channel.unit;
    if (channel.min !== undefined) info.minValue = channel.min;
    if (channel.max !== undefined) info.maxValue = channel.max;
    const infoType = checked(types.info, 'info', subType);
    if (infoType !== undefined) info.generic_type = infoType;
    if (channel.stateClass !== undefined) info.isHistorized = 1;
    if (channel.kind === 'event') info.momentary = true;
    push(info);
    if (!channel.writable) continue;
    if (channel.kind === 'boolean') {
      actions.push(withType({ logicalId: `${id}::on`, name: `${name} On`, type: 'action', subType: 'other', value: id, channel: id, send: true }, types.on));
      actions.push(withType({ logicalId: `${id}::off`, name: `${name} Off`, type: 'action', subType: 'other', value: id, channel: id, send: false }, types.off));
    } else if (channel.kind === 'number') {
      const slider: JeedomCmd = { logicalId: `${id}::set`, name: `${name} set`, type: 'action', subType: 'slider', value: id, channel: id };
      if (channel.unit !== undefined) slider.unite = channel.unit;
      if (channel.min !== undefined) slider.minValue = channel.min;
      if (channel.max !== undefined) slider.maxValue = channel.max;
      if (channel.step !== undefined) slider.step = channel.step;
      actions.push(withType(slider, types.set));
    } else if (channel.kind === 'enum' && channel.options !== undefined && !channel.options.some((o) => LIST_SEPARATOR.test(o))) {
      actions.push({ logicalId: `${id}::set`, name: `${name} set`, type: 'action', subType: 'select', listValue: channel.options.map((o) => `${o}|${o}`).join(';'), value: id, channel: id });
    }
  }
  // Channels' infos first, then the actions, so no action takes an info's logicalId.
  for (const action of actions) push(action);
  for (const [id, action] of Object.entries(description.actions ?? {})) {
    const logicalId = taken.has(id) ? `action::${id}` : id;
    push(withType({ logicalId, name: action.name ?? id, type: 'action', subType: 'other', action: id }, id === 'reboot' ? 'REBOOT' : undefined));
  }
  const device: JeedomDevice = { name: description.name, cmds };
  if (description.manufacturer !== undefined) device.manufacturer = description.manufacturer;
  if (description.model !== undefined) device.model = description.model;
  if (description.firmware !== undefined) device.firmware = description.firmware;
  return device;
}

function withType(cmd: JeedomCmd, type: string | undefined): JeedomCmd {
  const name = checked(type, cmd.type, cmd.subType);
  if (name !== undefined) cmd.generic_type = name;
  return cmd;
}
