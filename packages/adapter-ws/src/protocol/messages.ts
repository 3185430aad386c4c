import { jsonDepthExceeds, JsonValueSchema, MAX_JSON_DEPTH, type GatewayHealth, type JsonValue, type OutboundEvent, type ReplyEvent, type StateSnapshot, describeError } from '@patchbay/core';
import { z } from 'zod';
import type { HealthChanges } from './healthChanges.js';

/**
 * The wire format, one JSON object per text message.
 *
 * Server → client: `snapshot` first (every device's state and the gateway's whole health), then
 * `state` and `status` as they happen, `health` with what changed in the health since the last
 * one (at most once per `healthIntervalMs`, nothing when nothing changed), `reply` to the client
 * that asked only, and `error` for a message the server could not accept.
 *
 * Client → server: `{"type":"command","id":…,"device":…,"channel":…,"value":…}` (or `action`
 * and `args` instead of `channel` and `value`); `id` is the client's own and comes back on the reply.
 */

/** A command as a client sends it. */
export const ClientCommandSchema = z
  .object({
    type: z.literal('command'),
    id: z.union([z.string().min(1).max(256), z.number().finite()]),
    device: z.string().min(1).max(128),
    channel: z.string().min(1).max(128).optional(),
    action: z.string().min(1).max(128).optional(),
    value: JsonValueSchema.optional(),
    args: z.array(JsonValueSchema).optional(),
  })
  .strict()
  .refine((c) => (c.channel === undefined) !== (c.action === undefined), { message: 'a command names exactly one of "channel" or "action"' });

/** A client's command, validated. */
export type ClientCommand = z.output<typeof ClientCommandSchema>;

/** Wire error codes: the core's codes where one fits, so clients see one vocabulary. */
export const WireErrors = {
  /** Not JSON, not an object, unknown `type`, or an invalid command. */
  BAD_MESSAGE: 'PB206_COMMAND_INVALID',
  /** Too many unanswered commands from this client. */
  TOO_MANY_PENDING: 'PB208_OUTBOX_FULL',
} as const;

/** The first message a client gets. */
export function encodeSnapshot(snapshot: StateSnapshot, health: GatewayHealth): string {
  return JSON.stringify({ type: 'snapshot', gateway: health.name, devices: snapshot.devices, health });
}

/**
 * What changed in the health since the last message: the device and host entries that changed
 * (whole: replace them by id), the ids `removed`, and `status`, `journal` and `cluster` when they changed.
 * Its size follows what changed, not how many devices there are (issue 14.3).
 */
export function encodeHealthChanges(changes: HealthChanges, uptimeMs: number): string {
  return JSON.stringify({ type: 'health', uptimeMs, ...changes });
}

/** A state or status event for every client; undefined for kinds that are not broadcast. */
export function encodeBroadcast(event: OutboundEvent): string | undefined {
  switch (event.kind) {
    case 'state':
      return JSON.stringify({ type: 'state', id: event.id, time: event.time, device: event.device, channel: event.channel, value: event.value });
    case 'status':
      return JSON.stringify({ type: 'status', id: event.id, time: event.time, endpoint: event.endpoint, status: event.status, reason: event.reason });
    case 'description':
      return JSON.stringify({ type: 'description', id: event.id, time: event.time, device: event.device, description: event.description });
    case 'availability':
      return JSON.stringify({ type: 'availability', id: event.id, time: event.time, device: event.device, availability: event.availability, reason: event.reason, lastSeen: event.lastSeen });
    case 'momentary':
      return JSON.stringify({ type: 'event', id: event.id, time: event.time, device: event.device, channel: event.channel, value: event.value ?? null });
    case 'reply':
      return undefined;
  }
}

/** A reply, carrying the client's own command id. */
export function encodeReply(id: string | number, reply: ReplyEvent): string {
  const message: Record<string, JsonValue | undefined> = {
    type: 'reply',
    id,
    ok: reply.ok,
    device: reply.device,
    commandId: reply.commandId,
    time: reply.time,
  };
  if (reply.ok) message.value = reply.value ?? null;
  else {
    message.error = reply.error ?? 'failed';
    message.code = reply.code;
  }
  return JSON.stringify(message);
}

/** A failed reply made by the adapter itself (the command never reached the core). */
export function encodeRefusal(id: string | number, device: string, failure: { code: string; error: string }): string {
  return JSON.stringify({ type: 'reply', id, ok: false, device, code: failure.code, error: failure.error, time: Date.now() });
}

/** An error about a message the client sent; `id` when the message had a usable one. */
export function encodeError(failure: { code: string; error: string; id?: string | number | undefined }): string {
  return JSON.stringify({ type: 'error', code: failure.code, error: failure.error, id: failure.id });
}

/**
 * Deeper messages are refused before validation: JSON.parse accepts thousands of levels, but
 * validating, storing or logging them recurses past the stack. Commands need a handful.
 */
export const MAX_DEPTH = MAX_JSON_DEPTH;

/** Parse one client message; a readable error when it is not a valid command. */
export function parseClientMessage(text: string): { ok: true; command: ClientCommand } | { ok: false; error: string; id?: string | number } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `not JSON: ${describeError(error)}` };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { ok: false, error: 'expected a JSON object' };
  const record = data as Record<string, unknown>;
  const id = typeof record.id === 'string' || (typeof record.id === 'number' && Number.isFinite(record.id)) ? record.id : undefined;
  if (jsonDepthExceeds(data, MAX_DEPTH)) return { ok: false, id, error: `nested deeper than ${MAX_DEPTH} levels (${text.length} characters)` };
  if (record.type !== 'command') return { ok: false, id, error: `unknown message type ${JSON.stringify(record.type)} (expected "command")` };
  const parsed = ClientCommandSchema.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'command'}: ${i.message}`).join('; ');
    return { ok: false, id, error: `invalid command: ${issues}` };
  }
  return { ok: true, command: parsed.data };
}
