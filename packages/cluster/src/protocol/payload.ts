/**
 * What the cluster's messages carry (JSON), and the checks on what comes in from other
 * gateways: a peer's message is input like any other, validated once here.
 */
import { AvailabilitySchema, DeviceDescriptionSchema, JsonValueSchema, MAX_JSON_DEPTH, jsonDepthExceeds, type Availability, type DeviceDescription, type JsonValue, type ReplyInit } from '@patchbay/core';
import { z } from 'zod';

/** A device's description (null for a device that never described itself) as announced, with when its owner first announced it (the older claim to an id wins). */
export const AnnouncementSchema = z.object({ description: DeviceDescriptionSchema.nullable(), since: z.number().int().nonnegative() });
export type Announcement = z.output<typeof AnnouncementSchema>;

export const StatePayloadSchema = z.object({ value: JsonValueSchema, time: z.number().int().nonnegative() });
export const AvailabilityPayloadSchema = z.object({ availability: AvailabilitySchema, reason: z.string().max(1024).optional() });
export const EventPayloadSchema = z.object({ id: z.string().min(1).max(64), value: JsonValueSchema.optional(), time: z.number().int().nonnegative() });

/** A command as forwarded to its device's owner (the core's command, less what the owner stamps itself). */
export const RequestSchema = z
  .object({
    device: z.string().min(1).max(256),
    channel: z.string().min(1).max(256).optional(),
    action: z.string().min(1).max(256).optional(),
    value: JsonValueSchema.optional(),
    args: z.array(JsonValueSchema).max(256).optional(),
  })
  .refine((r) => (r.channel === undefined) !== (r.action === undefined), 'exactly one of channel and action');
export type Request = z.output<typeof RequestSchema>;

export const ReplyPayloadSchema = z.object({ ok: z.boolean(), value: JsonValueSchema.optional(), error: z.string().max(4096).optional(), code: z.string().max(64).optional() });

/** Parses a peer's JSON payload against `schema`: the value, or why it was refused. */
export function decode<T>(payload: Buffer, schema: z.ZodType<T>, maxBytes: number): { ok: true; value: T } | { ok: false; error: string } {
  if (payload.length > maxBytes) return { ok: false, error: `${payload.length} bytes, more than ${maxBytes}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (error) {
    return { ok: false, error: `not UTF-8 JSON (${(error as Error).message})` };
  }
  // Validation recurses: a value nested thousands deep would overflow the stack.
  if (typeof parsed === 'object' && parsed !== null && jsonDepthExceeds(parsed, MAX_JSON_DEPTH + 4)) return { ok: false, error: `nested deeper than ${MAX_JSON_DEPTH} levels` };
  const result = schema.safeParse(parsed);
  if (!result.success) return { ok: false, error: result.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ') };
  return { ok: true, value: result.data };
}

export function encodeAnnouncement(description: DeviceDescription | null, since: number): string {
  return JSON.stringify({ description, since });
}

export function encodeState(value: JsonValue, time: number): string {
  return JSON.stringify({ value, time });
}

export function encodeAvailability(availability: Availability, reason: string | undefined): string {
  return JSON.stringify(reason === undefined ? { availability } : { availability, reason });
}

export function encodeEvent(id: string, value: JsonValue | undefined, time: number): string {
  return JSON.stringify(value === undefined ? { id, time } : { id, value, time });
}

export function encodeReply(reply: ReplyInit): string {
  return JSON.stringify(reply.ok ? { ok: true, value: reply.value ?? null } : { ok: false, error: reply.error ?? 'failed', ...(reply.code === undefined ? {} : { code: reply.code }) });
}
