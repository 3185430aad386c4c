import type { ChannelDescription, DeviceDescription, JsonValue } from '@patchbay/core';
import { typeOf, widthOf, type ChannelConfig, type ModbusConfig, type ValueType } from './config.js';

/** A decoded value, or why the raw data cannot be one (counted as bad input, never reported). */
export type Decoded = { ok: true; value: JsonValue } | { ok: false; error: string };

const ranges: Record<Exclude<ValueType, 'bool' | 'float32'>, { min: number; max: number }> = {
  int16: { min: -32_768, max: 32_767 },
  uint16: { min: 0, max: 65_535 },
  int32: { min: -2_147_483_648, max: 2_147_483_647 },
  uint32: { min: 0, max: 4_294_967_295 },
};

/** Lays the registers out as big-endian bytes after applying the channel's word and byte order. */
function registerBytes(channel: ChannelConfig, words: readonly number[]): Buffer {
  const ordered = channel.wordOrder === 'little' ? [...words].reverse() : words;
  const bytes = Buffer.alloc(ordered.length * 2);
  ordered.forEach((word, i) => (channel.byteOrder === 'little' ? bytes.writeUInt16LE(word, i * 2) : bytes.writeUInt16BE(word, i * 2)));
  return bytes;
}

function rawFromRegisters(type: ValueType, bytes: Buffer): number {
  switch (type) {
    case 'int16':
      return bytes.readInt16BE(0);
    case 'uint16':
      return bytes.readUInt16BE(0);
    case 'int32':
      return bytes.readInt32BE(0);
    case 'uint32':
      return bytes.readUInt32BE(0);
    default:
      return bytes.readFloatBE(0);
  }
}

/** Scaled values keep 12 significant digits, float32 its 7: 230.1 rather than 230.10000610351562. */
function tidy(value: number, type: ValueType): number {
  return Number(value.toPrecision(type === 'float32' ? 7 : 12));
}

/**
 * Decodes one channel from the words (registers) or bits its read returned. `words[0]` and
 * `bits[0]` are the channel's own address.
 */
export function decodeChannel(channel: ChannelConfig, data: { words?: readonly number[]; bits?: readonly boolean[] }): Decoded {
  const type = typeOf(channel);
  if (channel.table === 'coil' || channel.table === 'discrete') {
    const bit = data.bits?.[0];
    return bit === undefined ? { ok: false, error: 'the reply holds no bit for it' } : { ok: true, value: bit };
  }
  const words = data.words?.slice(0, widthOf(channel)) ?? [];
  if (words.length < widthOf(channel)) return { ok: false, error: `the reply holds ${words.length} of its ${widthOf(channel)} registers` };
  if (type === 'bool') return { ok: true, value: (((words[0] ?? 0) >> (channel.bit ?? 0)) & 1) === 1 };
  const raw = rawFromRegisters(type, registerBytes(channel, words));
  if (!Number.isFinite(raw)) return { ok: false, error: `${type} ${raw} is not a number` };
  if (channel.enum !== undefined) {
    const name = channel.enum[String(raw)];
    return name === undefined ? { ok: false, error: `raw value ${raw} is none of its enum values` } : { ok: true, value: name };
  }
  return { ok: true, value: tidy(raw * channel.scale + channel.offset, type) };
}

/** What a write puts on the wire. */
export type Encoded = { ok: true; coil: boolean } | { ok: true; words: number[] } | { ok: false; error: string };

/** Encodes a host's value for a writable channel, refusing what the registers cannot hold. */
export function encodeChannel(channel: ChannelConfig, value: JsonValue | undefined): Encoded {
  const type = typeOf(channel);
  if (channel.table === 'coil') {
    if (typeof value === 'boolean') return { ok: true, coil: value };
    return { ok: false, error: `a coil takes true or false, not ${JSON.stringify(value ?? null)}` };
  }
  let raw: number;
  if (channel.enum !== undefined) {
    const entry = Object.entries(channel.enum).find(([, name]) => name === value);
    if (entry === undefined) return { ok: false, error: `expected one of ${Object.values(channel.enum).join(', ')}, got ${JSON.stringify(value ?? null)}` };
    raw = Number(entry[0]);
  } else {
    if (typeof value !== 'number' || !Number.isFinite(value)) return { ok: false, error: `expected a number, got ${JSON.stringify(value ?? null)}` };
    if (channel.min !== undefined && value < channel.min) return { ok: false, error: `${value} is below the minimum ${channel.min}` };
    if (channel.max !== undefined && value > channel.max) return { ok: false, error: `${value} is above the maximum ${channel.max}` };
    raw = (value - channel.offset) / channel.scale;
  }
  const bytes = Buffer.alloc(4);
  if (type === 'float32') {
    bytes.writeFloatBE(raw, 0);
  } else {
    const range = ranges[type as keyof typeof ranges];
    const rounded = Math.round(raw);
    if (Math.abs(rounded - raw) > 1e-6 * Math.max(1, Math.abs(raw))) return { ok: false, error: `${value} is not a multiple of the scale ${channel.scale}` };
    if (rounded < range.min || rounded > range.max) return { ok: false, error: `${value} does not fit a ${type} (raw ${rounded})` };
    if (type === 'int16') bytes.writeInt16BE(rounded, 0);
    else if (type === 'uint16') bytes.writeUInt16BE(rounded, 0);
    else if (type === 'int32') bytes.writeInt32BE(rounded, 0);
    else bytes.writeUInt32BE(rounded, 0);
  }
  const count = widthOf(channel);
  const words: number[] = [];
  for (let i = 0; i < count; i++) words.push(channel.byteOrder === 'little' ? bytes.readUInt16LE(i * 2) : bytes.readUInt16BE(i * 2));
  return { ok: true, words: channel.wordOrder === 'little' ? words.reverse() : words };
}

/** The value a host would read back once `encoded` is in the registers (the confirmed value). */
export function confirmedValue(channel: ChannelConfig, encoded: Exclude<Encoded, { ok: false }>): Decoded {
  return 'coil' in encoded ? { ok: true, value: encoded.coil } : decodeChannel(channel, { words: encoded.words });
}

/** One channel's description, from its map entry. */
export function describeChannel(channel: ChannelConfig): ChannelDescription {
  const type = typeOf(channel);
  const description: ChannelDescription = { kind: 'number', writable: channel.writable };
  if (type === 'bool') description.kind = 'boolean';
  else if (channel.enum !== undefined) {
    description.kind = 'enum';
    description.options = Object.values(channel.enum);
  } else {
    const range = type === 'float32' ? undefined : ranges[type];
    const ends = range === undefined ? [] : [range.min * channel.scale + channel.offset, range.max * channel.scale + channel.offset];
    const min = channel.min ?? (ends.length > 0 ? tidy(Math.min(...ends), type) : undefined);
    const max = channel.max ?? (ends.length > 0 ? tidy(Math.max(...ends), type) : undefined);
    if (min !== undefined) description.min = min;
    if (max !== undefined) description.max = max;
    if (type !== 'float32') description.step = Math.abs(channel.scale);
  }
  if (channel.name !== undefined) description.name = channel.name;
  if (channel.unit !== undefined) description.unit = channel.unit;
  if (channel.class !== undefined) description.class = channel.class;
  if (channel.stateClass !== undefined) description.stateClass = channel.stateClass;
  return description;
}

/**
 * The device description the driver announces: one channel per map entry. No
 * `reportIntervalMs`: only changed values are reported, so silence is no sign of absence;
 * the driver itself says when the device is gone (timeouts in a row, a lost connection).
 */
export function describeMap(config: ModbusConfig, fallbackName: string): DeviceDescription {
  const description: DeviceDescription = {
    name: config.name ?? fallbackName,
    channels: Object.fromEntries(Object.entries(config.channels).map(([name, channel]) => [name, describeChannel(channel)])),
    actions: { refresh: { name: 'Read every register now' } },
  };
  if (config.manufacturer !== undefined) description.manufacturer = config.manufacturer;
  if (config.model !== undefined) description.model = config.model;
  return description;
}
