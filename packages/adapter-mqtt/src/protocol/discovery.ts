/**
 * Home Assistant MQTT discovery: the retained `<prefix>/<component>/<node_id>/<object_id>/config`
 * messages built from a device description, following Home Assistant's MQTT discovery
 * documentation (components sensor, binary_sensor, switch, number, select, text, button, event).
 * Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import type { ChannelInfo, DeviceInfoDescription } from './description.js';
import { booleanWords, type BooleanPayloads } from './payload.js';
import type { Topics } from './topics.js';

/** One discovery message: its topic and its JSON payload. */
export interface DiscoveryMessage {
  topic: string;
  component: string;
  payload: Record<string, unknown>;
}

/** What the builder needs besides the description. */
export interface DiscoveryContext {
  /** Discovery prefix, `homeassistant` by default. */
  prefix: string;
  /** The gateway's node id (`[a-zA-Z0-9_-]`): the middle level of every topic, and the gateway's device identifier. */
  nodeId: string;
  /** The gateway's name, shown as the bridge device in Home Assistant. */
  gatewayName: string;
  topics: Topics;
  booleans: BooleanPayloads;
  /** Patchbay's version, for the `origin` block. */
  version: string;
}

/** Sensor device classes for Patchbay's channel classes, where Home Assistant has one. */
const SENSOR_CLASSES: Readonly<Record<string, string>> = {
  temperature: 'temperature',
  humidity: 'humidity',
  pressure: 'pressure',
  power: 'power',
  apparent_power: 'apparent_power',
  energy: 'energy',
  voltage: 'voltage',
  current: 'current',
  frequency: 'frequency',
  illuminance: 'illuminance',
  co2: 'carbon_dioxide',
  battery: 'battery',
  signal_strength: 'signal_strength',
  duration: 'duration',
  monetary: 'monetary',
};

/** Units Home Assistant accepts for each sensor device class (a class with another unit is refused there). */
const CLASS_UNITS: Readonly<Record<string, readonly string[] | undefined>> = {
  temperature: ['°C', '°F', 'K'],
  humidity: ['%'],
  pressure: ['Pa', 'hPa', 'kPa', 'bar', 'cbar', 'mbar', 'mmHg', 'inHg', 'psi'],
  power: ['mW', 'W', 'kW', 'MW', 'GW', 'TW', 'BTU/h'],
  apparent_power: ['mVA', 'VA', 'kVA'],
  energy: ['mWh', 'Wh', 'kWh', 'MWh', 'GWh', 'TWh', 'MJ', 'GJ', 'cal', 'kcal', 'Mcal', 'Gcal'],
  voltage: ['µV', 'mV', 'V', 'kV', 'MV'],
  current: ['mA', 'A'],
  frequency: ['Hz', 'kHz', 'MHz', 'GHz'],
  illuminance: ['lx'],
  carbon_dioxide: ['ppm'],
  battery: ['%'],
  signal_strength: ['dB', 'dBm'],
  duration: ['d', 'h', 'min', 's', 'ms', 'µs'],
  monetary: undefined, // any ISO 4217 currency
};

/** Sensor classes that must not have state_class `measurement` (they are totals). */
const TOTAL_ONLY: ReadonlySet<string> = new Set(['energy', 'monetary']);

/** Binary sensor device classes for Patchbay's channel classes. */
const BINARY_CLASSES: Readonly<Record<string, string>> = {
  door: 'door',
  window: 'window',
  motion: 'motion',
  occupancy: 'occupancy',
  smoke: 'smoke',
  moisture: 'moisture',
  lock: 'lock',
  light: 'light',
  battery: 'battery',
  power: 'power',
};

/** Home Assistant's characters for node and object ids. */
const ID_CHARS = /^[a-zA-Z0-9_-]+$/;

/** `name` with every character outside `[a-zA-Z0-9_-]` replaced by `_`. */
export function sanitizeId(name: string): string {
  return name.replace(/[^a-zA-Z0-9_-]/g, '_') || '_';
}

/**
 * The object id of one channel: `<device>_<channel>` when both are plain (no `_`, nothing to
 * replace), so it cannot collide; else the sanitized form plus a short hash of the exact pair.
 */
export function objectId(device: string, channel: string): string {
  const plain = /^[a-zA-Z0-9-]+$/;
  if (plain.test(device) && plain.test(channel)) return `${device}_${channel}`;
  const hash = createHash('sha1').update(device).update('\u0000').update(channel).digest('hex').slice(0, 8);
  return `${sanitizeId(device)}_${sanitizeId(channel)}_${hash}`;
}

/** The gateway's node id, from its name and this host's id. */
export function nodeIdFor(gatewayName: string, hostId: string): string {
  const id = sanitizeId(`${gatewayName}_${hostId}`);
  return ID_CHARS.test(id) ? id : '_';
}

/** The wildcard that matches every discovery topic this gateway may ever have published. */
export function discoveryFilter(prefix: string, nodeId: string): string {
  return `${prefix}/+/${nodeId}/+/config`;
}

/** "relay" → "Relay", "outdoor_temp" → "Outdoor temp": a readable default name. */
function humanize(id: string): string {
  const spaced = id.replace(/[_-]+/g, ' ').trim();
  return spaced.length === 0 ? id : spaced[0]?.toUpperCase() + spaced.slice(1);
}

/** The origin block: who publishes the discovery messages. */
function origin(ctx: DiscoveryContext): Record<string, unknown> {
  return { name: 'Patchbay', sw_version: ctx.version };
}

/** The discovery message of the gateway itself: a connectivity binary sensor on `<base>/bridge/state`. */
export function bridgeDiscovery(ctx: DiscoveryContext): DiscoveryMessage {
  const component = 'binary_sensor';
  return {
    topic: `${ctx.prefix}/${component}/${ctx.nodeId}/bridge/config`,
    component,
    payload: {
      name: 'Connection state',
      unique_id: `${ctx.nodeId}_bridge_state`,
      state_topic: ctx.topics.bridgeState,
      payload_on: 'online',
      payload_off: 'offline',
      device_class: 'connectivity',
      entity_category: 'diagnostic',
      device: { identifiers: [ctx.nodeId], name: ctx.gatewayName, manufacturer: 'Patchbay', model: 'Patchbay gateway', sw_version: ctx.version },
      origin: origin(ctx),
    },
  };
}

/** Every discovery message of one described device, in channel order, then its actions. */
export function deviceDiscovery(device: string, description: DeviceInfoDescription, ctx: DiscoveryContext): DiscoveryMessage[] {
  const topics = ctx.topics;
  const deviceBlock: Record<string, unknown> = {
    identifiers: [`${ctx.nodeId}_${device}`],
    name: description.name,
    via_device: ctx.nodeId,
  };
  if (description.manufacturer !== undefined) deviceBlock.manufacturer = description.manufacturer;
  if (description.model !== undefined) deviceBlock.model = description.model;
  if (description.firmware !== undefined) deviceBlock.sw_version = description.firmware;
  const common = (id: string, name: string | undefined): Record<string, unknown> => ({
    name: name ?? humanize(id),
    unique_id: `${ctx.nodeId}_${device}_${id}`,
    availability: [{ topic: topics.bridgeState }, { topic: topics.availability(device) }],
    availability_mode: 'all',
    qos: 1,
    device: deviceBlock,
    origin: origin(ctx),
  });
  const messages: DiscoveryMessage[] = [];
  const add = (component: string, id: string, payload: Record<string, unknown>) => {
    messages.push({ topic: `${ctx.prefix}/${component}/${ctx.nodeId}/${objectId(device, id)}/config`, component, payload });
  };
  for (const [id, channel] of Object.entries(description.channels)) {
    const built = channelEntity({ device, id, channel }, ctx);
    if (built) add(built.component, id, { ...common(id, channel.name), ...built.fields });
  }
  for (const [id, action] of Object.entries(description.actions ?? {})) {
    // A channel of the same name owns the topic: the action is not discoverable then.
    if (description.channels[id] !== undefined) continue;
    add('button', id, { ...common(id, action.name), command_topic: topics.command(device, id), payload_press: 'PRESS' });
  }
  return messages;
}

/** The component and its own fields for one channel; undefined for channels Home Assistant has no entity for (json). */
function channelEntity({ device, id, channel }: { device: string; id: string; channel: ChannelInfo }, ctx: DiscoveryContext): { component: string; fields: Record<string, unknown> } | undefined {
  const topics = ctx.topics;
  const state = topics.state(device, id);
  const command = topics.command(device, id);
  switch (channel.kind) {
    case 'number': {
      const fields: Record<string, unknown> = { state_topic: state };
      const deviceClass = channel.class !== undefined ? SENSOR_CLASSES[channel.class] : undefined;
      const unitFits = deviceClass !== undefined && (CLASS_UNITS[deviceClass] === undefined || (channel.unit !== undefined && CLASS_UNITS[deviceClass]?.includes(channel.unit)));
      if (deviceClass !== undefined && unitFits) fields.device_class = deviceClass;
      if (channel.unit !== undefined) fields.unit_of_measurement = channel.unit;
      if (channel.writable) {
        fields.command_topic = command;
        if (channel.min !== undefined) fields.min = channel.min;
        if (channel.max !== undefined) fields.max = channel.max;
        if (channel.step !== undefined) fields.step = channel.step;
        return { component: 'number', fields };
      }
      const stateClass = channel.stateClass ?? 'measurement';
      if (!(stateClass === 'measurement' && fields.device_class !== undefined && TOTAL_ONLY.has(fields.device_class as string))) fields.state_class = stateClass;
      return { component: 'sensor', fields };
    }
    case 'boolean': {
      const words = booleanWords(ctx.booleans);
      if (channel.writable) {
        const fields: Record<string, unknown> = { state_topic: state, command_topic: command, payload_on: words.on, payload_off: words.off, state_on: words.on, state_off: words.off };
        if (channel.class === 'switch') fields.device_class = 'switch';
        return { component: 'switch', fields };
      }
      const fields: Record<string, unknown> = { state_topic: state, payload_on: words.on, payload_off: words.off };
      const deviceClass = channel.class !== undefined ? BINARY_CLASSES[channel.class] : undefined;
      if (deviceClass !== undefined) fields.device_class = deviceClass;
      return { component: 'binary_sensor', fields };
    }
    case 'enum': {
      const options = channel.options ?? [];
      if (channel.writable) return { component: 'select', fields: { state_topic: state, command_topic: command, options } };
      return { component: 'sensor', fields: { state_topic: state, device_class: 'enum', options } };
    }
    case 'text':
      if (channel.writable) return { component: 'text', fields: { state_topic: state, command_topic: command, max: 255 } };
      return { component: 'sensor', fields: { state_topic: state } };
    case 'event': {
      const fields: Record<string, unknown> = { state_topic: topics.event(device, id), event_types: channel.options && channel.options.length > 0 ? channel.options : ['press'] };
      if (channel.class === 'button') fields.device_class = 'button';
      return { component: 'event', fields };
    }
    case 'json':
      return undefined;
  }
}
