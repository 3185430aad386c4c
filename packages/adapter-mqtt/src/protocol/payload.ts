/**
 * Payloads: what a state, an event or a reply looks like on the wire, and what a `/set`
 * payload means. Pure: no I/O.
 */
import { ErrorCodes, type JsonValue, type ReplyEvent } from '@patchbay/core';
import type { ChannelInfo } from './description.js';

/** How booleans are written: Home Assistant's `ON`/`OFF` (default) or `true`/`false`. */
export type BooleanPayloads = 'ON/OFF' | 'true/false';

/** The two words booleans are written as. */
export function booleanWords(style: BooleanPayloads): { on: string; off: string } {
  return style === 'ON/OFF' ? { on: 'ON', off: 'OFF' } : { on: 'true', off: 'false' };
}

/**
 * A state value as a plain payload: numbers as numbers, booleans as the configured words,
 * strings as they are, and JSON for objects, arrays, null and every value of a `json` channel.
 */
export function encodeState(value: JsonValue, style: BooleanPayloads, channel?: ChannelInfo): string {
  if (channel?.kind === 'json') return JSON.stringify(value);
  switch (typeof value) {
    case 'number':
      return String(value);
    case 'boolean':
      return value ? (style === 'ON/OFF' ? 'ON' : 'true') : style === 'ON/OFF' ? 'OFF' : 'false';
    case 'string':
      return value;
    default:
      return JSON.stringify(value);
  }
}

/**
 * A momentary event's payload: JSON with Home Assistant's `event_type` (the value when it is
 * a string, else `press`) and the value itself when there is one.
 */
export function encodeEvent(value: JsonValue | undefined): string {
  const eventType = typeof value === 'string' ? value : 'press';
  return JSON.stringify(value === undefined || typeof value === 'string' ? { event_type: eventType } : { event_type: eventType, value });
}

/** A reply as `{ok, value}` or `{ok: false, error, code}`. */
export function encodeReply(reply: Pick<ReplyEvent, 'ok' | 'value' | 'error' | 'code'>): string {
  return JSON.stringify(reply.ok ? { ok: true, value: reply.value ?? null } : { ok: false, error: reply.error ?? 'failed', code: reply.code ?? ErrorCodes.COMMAND_FAILED });
}

/** A decoded `/set` payload, or why it cannot be one. */
export type DecodedCommand = { ok: true; value: JsonValue } | { ok: false; error: string; code: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * What a `/set` payload means. The text must be valid UTF-8 and at most `maxBytes`. Then:
 * the configured boolean words (any case) are booleans; for a channel described as text or
 * enum the text is the value; for anything else the text is parsed as JSON when it is JSON
 * (`21.5`, `true`, `{"a":1}`), else taken as a string. The value then goes to the core
 * unchanged, which checks it against the channel's description in one place.
 */
export function decodeCommand(payload: Uint8Array, options: { style: BooleanPayloads; maxBytes: number; channel?: ChannelInfo }): DecodedCommand {
  if (payload.byteLength > options.maxBytes) {
    return { ok: false, code: ErrorCodes.COMMAND_INVALID, error: `payload of ${payload.byteLength} bytes is over the limit of ${options.maxBytes}` };
  }
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return { ok: false, code: ErrorCodes.COMMAND_INVALID, error: 'payload is not valid UTF-8' };
  }
  const kind = options.channel?.kind;
  if (kind === 'text' || kind === 'enum') return { ok: true, value: text };
  const words = booleanWords(options.style);
  const upper = text.trim().toUpperCase();
  if (upper === words.on.toUpperCase()) return { ok: true, value: true };
  if (upper === words.off.toUpperCase()) return { ok: true, value: false };
  if (kind === 'event' || (options.channel === undefined && text.length === 0)) return { ok: true, value: text };
  try {
    return { ok: true, value: JSON.parse(text) as JsonValue };
  } catch {
    return { ok: true, value: text };
  }
}
