import { z } from 'zod';
import { AvailabilitySchema, DeviceDescriptionSchema } from './description.js';
import { JsonValueSchema, type JsonValue } from './json.js';

export { JsonValueSchema, type JsonValue } from './json.js';

/**
 * The event model: one discriminated union, small, flat and JSON-serialisable.
 * Every event has a unique, creation-sortable `id`, a `time` (epoch ms) and its `origin`
 * (a device id or a host id). Protocol extras ride in `meta`, which the core never reads.
 */

/** Opaque protocol extras; the core carries them and never reads them. */
export type Meta = Record<string, unknown>;


/** The lifecycle of any endpoint (device, host or the gateway itself). */
export const EndpointStatusSchema = z.enum(['starting', 'alive', 'stopped', 'dead', 'unknown']);
export type EndpointStatus = z.infer<typeof EndpointStatusSchema>;

/**
 * The longest device, channel, action or endpoint name an event carries. An adapter may refuse a
 * longer name from a peer before doing anything else with it: no such device can exist.
 */
export const MAX_NAME_LENGTH = 128;

const idSchema = z.string().min(1).max(256);
const nameSchema = z.string().min(1).max(MAX_NAME_LENGTH);
const baseShape = {
  id: idSchema,
  time: z.number().finite(),
  origin: nameSchema,
  meta: z.record(z.string(), z.unknown()).optional(),
};

export const StateEventSchema = z.object({
  kind: z.literal('state'),
  ...baseShape,
  device: nameSchema,
  channel: nameSchema,
  value: JsonValueSchema,
});

export const CommandEventSchema = z.object({
  kind: z.literal('command'),
  ...baseShape,
  device: nameSchema,
  channel: nameSchema.optional(),
  action: nameSchema.optional(),
  value: JsonValueSchema.optional(),
  args: z.array(JsonValueSchema).optional(),
  /** The asking host's own correlation id (a Jeedom `id`, a JSON-RPC id...), echoed on the reply. */
  ref: z.string().max(256).optional(),
});

export const ReplyEventSchema = z.object({
  kind: z.literal('reply'),
  ...baseShape,
  commandId: idSchema,
  device: nameSchema,
  /** The host that asked: the only one the reply goes to. */
  to: nameSchema,
  ok: z.boolean(),
  value: JsonValueSchema.optional(),
  error: z.string().optional(),
  code: z.string().optional(),
  ref: z.string().max(256).optional(),
});

export const StatusEventSchema = z.object({
  kind: z.literal('status'),
  ...baseShape,
  endpoint: nameSchema,
  status: EndpointStatusSchema,
  reason: z.string().optional(),
});

/** What a device is: sent when its driver describes it, and again whenever that changes. */
export const DescriptionEventSchema = z.object({
  kind: z.literal('description'),
  ...baseShape,
  device: nameSchema,
  description: DeviceDescriptionSchema,
});

/**
 * A momentary event (a press, a ring, a meter pulse): delivered to every routed host in order,
 * never coalesced, and dropped undelivered once older than the gateway's `eventTtlMs`.
 */
export const MomentaryEventSchema = z.object({
  kind: z.literal('momentary'),
  ...baseShape,
  device: nameSchema,
  channel: nameSchema,
  value: JsonValueSchema.optional(),
});

/** A device became `online`, `offline` or `stale`, with why and when it was last heard from. */
export const AvailabilityEventSchema = z.object({
  kind: z.literal('availability'),
  ...baseShape,
  device: nameSchema,
  availability: AvailabilitySchema,
  reason: z.string().optional(),
  lastSeen: z.number().finite().nullable(),
});

export const EventSchema = z.discriminatedUnion('kind', [
  StateEventSchema,
  CommandEventSchema,
  ReplyEventSchema,
  StatusEventSchema,
  DescriptionEventSchema,
  MomentaryEventSchema,
  AvailabilityEventSchema,
]);

export type StateEvent = z.infer<typeof StateEventSchema>;
export type CommandEvent = z.infer<typeof CommandEventSchema>;
export type ReplyEvent = z.infer<typeof ReplyEventSchema>;
export type StatusEvent = z.infer<typeof StatusEventSchema>;
export type DescriptionEvent = z.infer<typeof DescriptionEventSchema>;
export type MomentaryEvent = z.infer<typeof MomentaryEventSchema>;
export type AvailabilityEvent = z.infer<typeof AvailabilityEventSchema>;
export type PatchbayEvent = z.infer<typeof EventSchema>;
/** What the core hands to a host adapter's `deliver`. Commands go to drivers, never to hosts. */
export type OutboundEvent = StateEvent | ReplyEvent | StatusEvent | DescriptionEvent | MomentaryEvent | AvailabilityEvent;

/**
 * What a host adapter submits: a command as decoded from its protocol. The core adds
 * `id`, `time` and `origin`. Exactly one of `channel` and `action` is required.
 */
export const CommandInputSchema = z
  .object({
    device: nameSchema,
    channel: nameSchema.optional(),
    action: nameSchema.optional(),
    value: JsonValueSchema.optional(),
    args: z.array(JsonValueSchema).optional(),
    ref: z.string().max(256).optional(),
    meta: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((c) => (c.channel === undefined) !== (c.action === undefined), {
    message: 'a command names exactly one of "channel" or "action"',
  });
export type CommandInput = z.input<typeof CommandInputSchema>;

/** What a driver answers to a command; the core turns it into a {@link ReplyEvent}. */
export type ReplyInit = { ok: true; value?: JsonValue } | { ok: false; error: string; code?: string };

// Ids: a base-36 millisecond prefix (sortable across restarts), a per-millisecond counter
// and a per-process tag, so two gateways or two runs never mint the same id. The prefix is
// rebuilt once per millisecond, so an id costs one string concatenation.
const processTag = Math.floor(Math.random() * 36 ** 4)
  .toString(36)
  .padStart(4, '0');
let idMs = 0;
let idSeq = 0;
let idPrefix = '';

/** A new unique event id, sortable by creation time. */
export function newEventId(now: number = Date.now()): string {
  if (now > idMs) {
    idMs = now;
    idSeq = 0;
    idPrefix = now.toString(36).padStart(9, '0');
  }
  const seq = idSeq++;
  return idPrefix + (seq < 36 ? '000' : seq < 1296 ? '00' : seq < 46656 ? '0' : '') + seq.toString(36) + processTag;
}

/** The key under which state for one device channel is stored and coalesced. */
export function stateKey(device: string, channel: string): string {
  return device + '\u0000' + channel;
}
