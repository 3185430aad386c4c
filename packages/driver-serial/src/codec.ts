import { isUtf8 } from 'node:buffer';
import { ErrorCodes, PatchbayError, type JsonValue, describeError } from '@patchbay/core';
import type { CodecName } from './config.js';
import { preview } from './framing.js';

/** A command as it goes down the line: the driver's own short id plus what to do. */
export interface WireCommand {
  id: string;
  channel?: string | undefined;
  action?: string | undefined;
  value?: JsonValue | undefined;
  args?: JsonValue[] | undefined;
}

/** A device's answer to one command. `id` is absent for codecs matched first-in first-out. */
export type WireReply = { id: string | undefined; ok: true; value?: JsonValue } | { id: string | undefined; ok: false; error: string };

/** What one frame from the device means. */
export type Decoded =
  | { type: 'state'; channel: string; value: JsonValue }
  | { type: 'description'; description: JsonValue }
  | ({ type: 'reply' } & WireReply)
  | { type: 'bad'; kind: 'garbage' | 'invalid'; detail: string };

/** Turns device frames into states and replies, and commands into frames (the host side of the line). */
export interface Codec {
  readonly name: CodecName;
  /** `id`: replies name their command; `fifo`: replies come back in the order commands went down. */
  readonly correlation: 'id' | 'fifo';
  decode(frame: Buffer): Decoded;
  /** Throws COMMAND_INVALID when the command cannot be said in this codec. */
  encode(command: WireCommand): Buffer;
}

/** Channel names the codecs accept from the line (the core caps names at 128). */
const channelName = /^[^\s=]{1,128}$/;
// C0 controls other than tab/CR/LF and DEL never occur in text a device means.
// eslint-disable-next-line no-control-regex
const controlChars = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

/** Makes the codec a config asks for. */
export function createCodec(name: CodecName): Codec {
  return name === 'jsonl' ? jsonlCodec : kvCodec;
}

/** Checks a frame is text at all; returns it, or a `garbage` verdict. */
function asText(frame: Buffer): string | Decoded {
  if (!isUtf8(frame)) return { type: 'bad', kind: 'garbage', detail: `frame of ${frame.length} bytes is not UTF-8 text: ${preview(frame)}` };
  const text = frame.toString('utf8');
  if (controlChars.test(text)) return { type: 'bad', kind: 'garbage', detail: `frame of ${frame.length} bytes holds control characters: ${preview(frame)}` };
  return text;
}

/**
 * `jsonl`: one JSON object per frame. The device writes `{"channel":"temperature","value":21.5}`
 * or `{"id":"c1","ok":true,"value":1}` / `{"id":"c1","ok":false,"error":"..."}`, and may say what
 * it is with `{"describe":{"name":...,"channels":{...}}}`; commands go
 * down as `{"id":"c1","channel":"relay","value":true}` or `{"id":"c2","action":"refresh"}`.
 */
export const jsonlCodec: Codec = {
  name: 'jsonl',
  correlation: 'id',
  decode(frame) {
    const text = asText(frame);
    if (typeof text !== 'string') return text;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return { type: 'bad', kind: 'invalid', detail: `invalid JSON (${describeError(error)}): ${preview(frame)}` };
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return { type: 'bad', kind: 'invalid', detail: `expected a JSON object, got ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}: ${preview(frame)}` };
    }
    const record = parsed as Record<string, JsonValue>;
    // The device saying what it is; the driver checks it against core's schema.
    if ('describe' in record) return { type: 'description', description: record.describe ?? null };
    if ('ok' in record) {
      const id = record.id;
      if ((typeof id !== 'string' || id.length === 0) && typeof id !== 'number') {
        return { type: 'bad', kind: 'invalid', detail: `reply without a string "id": ${preview(frame)}` };
      }
      if (typeof record.ok !== 'boolean') return { type: 'bad', kind: 'invalid', detail: `reply "ok" must be true or false: ${preview(frame)}` };
      if (record.ok) return record.value === undefined ? { type: 'reply', id: String(id), ok: true } : { type: 'reply', id: String(id), ok: true, value: record.value };
      const error = typeof record.error === 'string' && record.error.length > 0 ? record.error : 'the device reported a failure';
      return { type: 'reply', id: String(id), ok: false, error };
    }
    const channel = record.channel;
    if (typeof channel !== 'string' || !channelName.test(channel)) {
      return { type: 'bad', kind: 'invalid', detail: `expected {"channel","value"} or {"id","ok"}; "channel" missing or not a name: ${preview(frame)}` };
    }
    if (!('value' in record)) return { type: 'bad', kind: 'invalid', detail: `state report for "${channel}" without "value": ${preview(frame)}` };
    return { type: 'state', channel, value: record.value as JsonValue };
  },
  encode(command) {
    const wire: Record<string, JsonValue> = { id: command.id };
    if (command.channel !== undefined) {
      wire.channel = command.channel;
      if (command.value !== undefined) wire.value = command.value;
    } else {
      wire.action = command.action ?? '';
      if (command.args !== undefined) wire.args = command.args;
    }
    return Buffer.from(JSON.stringify(wire), 'utf8');
  },
};

/**
 * `kv`: plain text for devices without ids. The device writes `temperature=21.5` and answers
 * each command, in order, with `ok`, `ok=<value>` or `error=<message>` (so `ok` and `error`
 * are not channel names). Commands go down as `relay=1` (booleans as 1/0) or, for an
 * action, its bare name (`refresh`).
 */
export const kvCodec: Codec = {
  name: 'kv',
  correlation: 'fifo',
  decode(frame) {
    const text = asText(frame);
    if (typeof text !== 'string') return text;
    const line = text.trim();
    if (line === 'ok') return { type: 'reply', id: undefined, ok: true };
    const eq = line.indexOf('=');
    if (eq <= 0) return { type: 'bad', kind: 'invalid', detail: `expected key=value, ok or error=message: ${preview(frame)}` };
    const key = line.slice(0, eq).trim();
    const raw = line.slice(eq + 1).trim();
    if (key === 'ok') return { type: 'reply', id: undefined, ok: true, value: parseKvValue(raw) };
    if (key === 'error') return { type: 'reply', id: undefined, ok: false, error: raw || 'the device reported a failure' };
    if (!channelName.test(key)) return { type: 'bad', kind: 'invalid', detail: `"${key.slice(0, 40)}" is not a channel name: ${preview(frame)}` };
    return { type: 'state', channel: key, value: parseKvValue(raw) };
  },
  encode(command) {
    if (command.channel === undefined) {
      const action = command.action ?? '';
      if (command.args !== undefined && command.args.length > 0) {
        throw new PatchbayError(ErrorCodes.COMMAND_INVALID, `the kv codec cannot carry arguments of action "${action}"`, { context: { action } });
      }
      return Buffer.from(action, 'utf8');
    }
    return Buffer.from(`${command.channel}=${formatKvValue(command.value ?? null, { booleans: 'digits' })}`, 'utf8');
  },
};

/** Reads a kv value: numbers and true/false become typed, anything else stays text. */
export function parseKvValue(raw: string): JsonValue {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(raw)) {
    const n = Number(raw);
    if (Number.isFinite(n)) return n;
  }
  return raw;
}

/** Writes a kv value: booleans as 1/0 (commands, what simple firmware parses) or true/false, objects as JSON. */
export function formatKvValue(value: JsonValue, options: { booleans: 'digits' | 'words' }): string {
  if (typeof value === 'boolean') return options.booleans === 'digits' ? (value ? '1' : '0') : String(value);
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value);
}
