import type { Availability, ChannelDescription, DeviceDescription, JsonValue } from '@patchbay/core';
import { tlmTime } from './wire.js';

/**
 * The TLMs Patchbay synthesises from device events (protocols/tracim.md §8.2, §10, K5): dotted
 * `<entity>.<operation>.<subtype>` event types as Tracim's own, an integer `event_id`, `created`
 * without a fraction, and an object `fields` that always holds `author` and `client_token`
 * (null: no Tracim user made the change).
 */
export const TlmTypes = {
  /** A channel's value changed. `fields`: device, channel, value, kind, and unit when described. */
  state: 'device.modified.state',
  /** A device was described, or its description changed. `fields`: device, description. */
  description: 'device.modified.description',
  /** A press, a ring, a pulse: never coalesced. `fields`: device, channel, value (or null), kind `event`. */
  momentary: 'device.created.event',
  /** A device became online, offline or stale. `fields`: device, availability, reason, last_seen. */
  availability: 'device.modified.availability',
} as const;

/** The kind an undescribed channel has in the core: any JSON, writability unknown. */
const UNDESCRIBED = 'json';

function tlm(eventId: number, event: { type: string; time: number; fields: Record<string, unknown> }): string {
  return JSON.stringify({ event_id: eventId, event_type: event.type, created: tlmTime(event.time), read: null, fields: { author: null, client_token: null, ...event.fields } });
}

/** A state change, with what the channel is (kind, and unit when it has one). */
export function stateTlm(eventId: number, input: { device: string; channel: string; value: JsonValue; time: number; described: ChannelDescription | undefined }): string {
  const fields: Record<string, unknown> = { device: input.device, channel: input.channel, value: input.value, kind: input.described?.kind ?? UNDESCRIBED };
  if (input.described?.unit !== undefined) fields.unit = input.described.unit;
  return tlm(eventId, { type: TlmTypes.state, time: input.time, fields });
}

/** A device's whole description, as the core holds it. */
export function descriptionTlm(eventId: number, input: { device: string; description: DeviceDescription; time: number }): string {
  return tlm(eventId, { type: TlmTypes.description, time: input.time, fields: { device: input.device, description: input.description } });
}

/** A momentary event. */
export function momentaryTlm(eventId: number, input: { device: string; channel: string; value: JsonValue | undefined; time: number; described: ChannelDescription | undefined }): string {
  const fields: Record<string, unknown> = { device: input.device, channel: input.channel, value: input.value ?? null, kind: 'event' };
  if (input.described?.unit !== undefined) fields.unit = input.described.unit;
  return tlm(eventId, { type: TlmTypes.momentary, time: input.time, fields });
}

/** A change of availability; `last_seen` in Tracim's `created` format, or null. */
export function availabilityTlm(eventId: number, input: { device: string; availability: Availability; reason: string | undefined; lastSeen: number | null; time: number }): string {
  return tlm(eventId, {
    type: TlmTypes.availability,
    time: input.time,
    fields: { device: input.device, availability: input.availability, reason: input.reason ?? null, last_seen: input.lastSeen === null ? null : tlmTime(input.lastSeen) },
  });
}
