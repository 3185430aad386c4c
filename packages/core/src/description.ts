import { z } from 'zod';
import type { JsonValue } from './json.js';
import { quoteForLog } from './logger.js';

/**
 * Device descriptions: what each channel of a device is. Drivers declare them; the core
 * checks commands against them here, in one place; each adapter translates them into its
 * host's vocabulary (Jeedom cmd types, Domogik data types, Home Assistant discovery).
 */

/** What a channel carries. `event` is momentary: a press, a ring, a pulse (never coalesced). */
export const ChannelKindSchema = z.enum(['number', 'boolean', 'enum', 'text', 'json', 'event']);
export type ChannelKind = z.infer<typeof ChannelKindSchema>;

/**
 * The semantic class of a channel, a small fixed vocabulary modelled on Home Assistant's
 * device classes, so that each adapter can map it to its host's own (generic types...).
 */
export const ChannelClassSchema = z.enum([
  'temperature',
  'humidity',
  'pressure',
  'power',
  'apparent_power',
  'energy',
  'voltage',
  'current',
  'frequency',
  'illuminance',
  'co2',
  'battery',
  'signal_strength',
  'duration',
  'monetary',
  'switch',
  'button',
  'door',
  'window',
  'motion',
  'occupancy',
  'smoke',
  'moisture',
  'lock',
  'light',
  'tariff',
  'generic',
]);
export type ChannelClass = z.infer<typeof ChannelClassSchema>;

/** How a numeric reading evolves, as Home Assistant's `state_class` says it. */
export const StateClassSchema = z.enum(['measurement', 'total', 'total_increasing']);
export type StateClass = z.infer<typeof StateClassSchema>;

const labelSchema = z.string().min(1).max(128);

export const ChannelDescriptionSchema = z
  .object({
    kind: ChannelKindSchema,
    /** A display name; the channel id when absent. */
    name: labelSchema.optional(),
    /** The unit symbol as Home Assistant and Jeedom write it: `°C`, `%`, `W`, `kWh`, `VA`... */
    unit: z.string().min(1).max(16).optional(),
    min: z.number().finite().optional(),
    max: z.number().finite().optional(),
    step: z.number().finite().positive().optional(),
    /** The allowed values of an `enum` channel. */
    options: z.array(z.string().min(1).max(128)).min(1).max(256).optional(),
    writable: z.boolean().default(false),
    class: ChannelClassSchema.optional(),
    stateClass: StateClassSchema.optional(),
  })
  .strict()
  .superRefine((channel, ctx) => {
    if (channel.kind === 'enum' && channel.options === undefined) ctx.addIssue({ code: 'custom', path: ['options'], message: 'an enum channel lists its allowed values in "options"' });
    if (channel.kind !== 'enum' && channel.options !== undefined) ctx.addIssue({ code: 'custom', path: ['options'], message: `"options" is for enum channels, not ${channel.kind}` });
    if (channel.kind !== 'number' && (channel.min !== undefined || channel.max !== undefined || channel.step !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['kind'], message: `"min", "max" and "step" are for number channels, not ${channel.kind}` });
    }
    if (channel.min !== undefined && channel.max !== undefined && channel.min > channel.max) ctx.addIssue({ code: 'custom', path: ['min'], message: `"min" (${channel.min}) is above "max" (${channel.max})` });
    if (channel.stateClass !== undefined && channel.kind !== 'number') ctx.addIssue({ code: 'custom', path: ['stateClass'], message: `"stateClass" is for number channels, not ${channel.kind}` });
  });
export type ChannelDescription = z.output<typeof ChannelDescriptionSchema>;

export const ActionDescriptionSchema = z.object({ name: labelSchema.optional() }).strict();
export type ActionDescription = z.output<typeof ActionDescriptionSchema>;

// events.ts's MAX_NAME_LENGTH: that module imports this one, so the number cannot be imported from it.
const channelIdSchema = z.string().min(1).max(128);

export const DeviceDescriptionSchema = z
  .object({
    /** A display name for people. */
    name: labelSchema,
    manufacturer: labelSchema.optional(),
    model: labelSchema.optional(),
    firmware: labelSchema.optional(),
    /** How often the device reports when nothing changes: the default `staleAfterMs` follows from it. */
    reportIntervalMs: z.number().int().positive().max(86_400_000).optional(),
    channels: z.record(channelIdSchema, ChannelDescriptionSchema).refine((c) => Object.keys(c).length <= 4096, 'at most 4096 channels'),
    /** Commands that name an `action` instead of a `channel` (a refresh, a reboot). */
    actions: z.record(channelIdSchema, ActionDescriptionSchema).optional(),
  })
  .strict();
export type DeviceDescription = z.output<typeof DeviceDescriptionSchema>;
/** A description as a driver may write it (`writable` may be left out). */
export type DeviceDescriptionInput = z.input<typeof DeviceDescriptionSchema>;

/** A device's availability: reporting, gone, or silent for longer than it should be. */
export const AvailabilitySchema = z.enum(['online', 'offline', 'stale']);
export type Availability = z.infer<typeof AvailabilitySchema>;

/** The outcome of {@link coerceValue}. */
export type CoercedValue = { ok: true; value: JsonValue } | { ok: false; error: string };

const TRUE_WORDS = new Set(['1', 'true', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'off']);
const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;

/**
 * A command value made into what the channel takes, or why it cannot be: the one place
 * commands' values are converted, so every host gets the same answer for the same input.
 */
export function coerceValue(channel: ChannelDescription, value: JsonValue | undefined): CoercedValue {
  switch (channel.kind) {
    case 'boolean': {
      if (typeof value === 'boolean') return { ok: true, value };
      if (value === 1 || value === 0) return { ok: true, value: value === 1 };
      if (typeof value === 'string') {
        const word = value.trim().toLowerCase();
        if (TRUE_WORDS.has(word)) return { ok: true, value: true };
        if (FALSE_WORDS.has(word)) return { ok: true, value: false };
      }
      return { ok: false, error: `expects a boolean (true/false, 1/0, "on"/"off"), got ${preview(value)}` };
    }
    case 'number': {
      let number: number | undefined;
      if (typeof value === 'number') number = value;
      else if (typeof value === 'string' && NUMERIC.test(value.trim())) number = Number(value.trim());
      if (number === undefined || !Number.isFinite(number)) return { ok: false, error: `expects a number${rangeText(channel)}, got ${preview(value)}` };
      if ((channel.min !== undefined && number < channel.min) || (channel.max !== undefined && number > channel.max)) {
        return { ok: false, error: `expects a number${rangeText(channel)}, got ${number}` };
      }
      return { ok: true, value: number };
    }
    case 'enum': {
      const options = channel.options ?? [];
      const text = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
      if (text !== undefined && options.includes(text)) return { ok: true, value: text };
      return { ok: false, error: `expects one of ${options.map((o) => JSON.stringify(o)).join(', ')}, got ${preview(value)}` };
    }
    case 'text':
      if (typeof value === 'string') return { ok: true, value };
      return { ok: false, error: `expects text, got ${preview(value)}` };
    case 'json':
    case 'event':
      return { ok: true, value: value ?? null };
  }
}

/**
 * True when a value a driver reports fits the channel's kind. Readings are facts, so a
 * range is not enforced on them (a sensor may read past its datasheet); `null` (unknown) fits
 * every kind.
 */
export function fitsKind(channel: ChannelDescription, value: JsonValue): boolean {
  if (value === null) return true;
  switch (channel.kind) {
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'enum':
      return typeof value === 'string' && (channel.options ?? []).includes(value);
    case 'text':
      return typeof value === 'string';
    case 'json':
    case 'event':
      return true;
  }
}

function rangeText(channel: ChannelDescription): string {
  if (channel.min !== undefined && channel.max !== undefined) return ` from ${channel.min} to ${channel.max}`;
  if (channel.min !== undefined) return ` of at least ${channel.min}`;
  if (channel.max !== undefined) return ` of at most ${channel.max}`;
  return '';
}

/** A peer's value, cut for a message: a command can carry megabytes. */
function preview(value: JsonValue | undefined): string {
  return value === undefined ? 'nothing' : quoteForLog(value, 60);
}
