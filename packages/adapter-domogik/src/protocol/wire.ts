/**
 * Domogik MQ wire constants and the pure encoding/decoding helpers shared by the plugin, the
 * embedded bus and the tests. Everything here follows protocols/domogik.md (cited as §n).
 */
import { hostname } from 'node:os';
import { MAX_JSON_DEPTH } from '@patchbay/core';

/** MDP client header (§5.1). */
export const MDPC = 'MDPC01';
/** MDP worker header (§5.1). */
export const MDPW = 'MDPW01';
/** Worker command bytes (§5.1), as the one-byte Buffers zeromq.js needs (§6). */
export const Command = {
  READY: 0x01,
  REQUEST: 0x02,
  REPLY: 0x03,
  HEARTBEAT: 0x04,
  DISCONNECT: 0x05,
} as const;
export const commandFrames = {
  ready: Buffer.from([Command.READY]),
  request: Buffer.from([Command.REQUEST]),
  reply: Buffer.from([Command.REPLY]),
  heartbeat: Buffer.from([Command.HEARTBEAT]),
  disconnect: Buffer.from([Command.DISCONNECT]),
} as const;
/** The empty delimiter frame. */
export const EMPTY = Buffer.alloc(0);

/** Message version suffix of every pub/sub id (§4.2). */
export const MSG_VERSION = '0_1';

/** The eight values `plugin.status` may carry (§7.2). */
export const pluginStatuses = ['starting', 'not-configured', 'alive', 'stop-request', 'stopped', 'dead', 'unknown', 'invalid'] as const;
export type PluginStatus = (typeof pluginStatuses)[number];

/** A JSON object, as every Domogik payload is (§3). */
export type JsonObject = Record<string, unknown>;

/**
 * The pub/sub message id `<category>.<seconds>_<micros>.0_1` (§4.2). The timestamp holds no
 * `.` so that stripping the last two dot parts gives the category back exactly.
 */
export function messageId(category: string, nowMs: number = Date.now()): string {
  const seconds = Math.floor(nowMs / 1000);
  const micros = Math.floor((nowMs - seconds * 1000) * 1000);
  return `${category}.${seconds}_${String(micros).padStart(6, '0')}.${MSG_VERSION}`;
}

/** The category of a pub/sub id, or undefined when it has fewer than 3 dot parts (§4.2). */
export function categoryOf(id: string): string | undefined {
  const parts = id.split('.');
  if (parts.length < 3) return undefined;
  return parts.slice(0, -2).join('.');
}

/** Why a frame list could not be decoded; carried to the log line. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/**
 * JSON for the wire: compact, and never NaN/Infinity (§3, §11.8). `JSON.stringify` already
 * writes non-finite numbers as null (what Domogik would store for "no value"), so no replacer
 * is needed on this hot path.
 */
export function encodeJson(value: unknown): string {
  return JSON.stringify(value);
}

// Deepest nesting accepted in incoming JSON: core's limit. Domogik's own payloads stay under
// ten levels; a recursive walk overflows the stack a few thousand down, and the worker echoes
// request data in its replies (`helper.do`).
export { MAX_JSON_DEPTH };

/**
 * True when the JSON text nests objects/arrays deeper than `limit`. A byte scan, before
 * parsing: brackets inside strings do not count, and UTF-8 continuation bytes never look
 * like ASCII, so the bytes can be read as they are.
 */
export function jsonTooDeep(frame: Buffer, limit: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < frame.length; i++) {
    const byte = frame[i];
    if (inString) {
      if (byte === 0x5c) i++;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x7b || byte === 0x5b) {
      if (++depth > limit) return true;
    } else if (byte === 0x7d || byte === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** Decodes a frame that must hold one JSON object; throws a {@link FrameError} otherwise. */
export function decodeObject(frame: Buffer | undefined, what: string): JsonObject {
  if (frame === undefined) throw new FrameError(`${what}: missing JSON frame`);
  if (jsonTooDeep(frame)) throw new FrameError(`${what}: JSON nested deeper than ${MAX_JSON_DEPTH} levels: ${preview(frame)}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(frame.toString('utf8'));
  } catch (error) {
    throw new FrameError(`${what}: invalid JSON (${(error as Error).message}): ${preview(frame)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new FrameError(`${what}: JSON is not an object: ${preview(frame)}`);
  return parsed as JsonObject;
}

/** A short printable preview of a frame for log lines (never the whole payload). */
export function preview(frame: Buffer | undefined, max = 60): string {
  if (frame === undefined) return '<none>';
  const text = frame.toString('latin1');
  const printable = /^[\x20-\x7e]*$/.test(text);
  const shown = printable ? JSON.stringify(text.length > max ? text.slice(0, max) + '…' : text) : `0x${frame.subarray(0, max / 2).toString('hex')}`;
  return `${shown} (${frame.length} B)`;
}

/** A printable list of frames for log lines. */
export function describeFrames(frames: readonly Buffer[]): string {
  return `${frames.length} frame(s): [${frames.slice(0, 8).map((f) => preview(f, 24)).join(', ')}${frames.length > 8 ? ', …' : ''}]`;
}

/**
 * Domogik's sanitized hostname (§7.1, §11.23): lower-case, cut at the first `.`, every `-`
 * removed, at most 16 characters.
 */
export function sanitizeHostname(name: string = hostname()): string {
  return name.toLowerCase().split('.')[0]!.replace(/-/g, '').slice(0, 16);
}

/**
 * A configuration value as Domogik stores it, normalised (§7.4, §11.27): `"None"`/`""` are
 * unset, `"True"`/`"Y"`/true are true, `"False"`/`"N"`/false are false; anything else as is.
 */
export function configValue(value: unknown): unknown {
  if (value === null || value === undefined || value === 'None' || value === '') return undefined;
  if (value === true || value === 'True' || value === 'Y') return true;
  if (value === false || value === 'False' || value === 'N') return false;
  return value;
}

/** Splits `frames` at the first empty frame: the envelope before it and the rest after it. */
export function splitEnvelope(frames: readonly Buffer[], from: number): { envelope: Buffer[]; rest: Buffer[] } | undefined {
  for (let i = from; i < frames.length; i++) {
    if ((frames[i] as Buffer).length === 0) return { envelope: frames.slice(from, i) as Buffer[], rest: frames.slice(i + 1) as Buffer[] };
  }
  return undefined;
}

/**
 * Reads the timeout frame a Domogik client sends after the service (§5.2). `strip` is true
 * when Python's `float()` accepts the text (the broker then removes the frame); `seconds` is
 * set only for a finite positive value (the only kind that may drive the heartbeat lock).
 */
export function parseTimeoutFrame(frame: Buffer | undefined): { strip: boolean; seconds: number | undefined } {
  if (frame === undefined || frame.length === 0 || frame.length > 64) return { strip: false, seconds: undefined };
  const text = frame.toString('latin1').trim().toLowerCase();
  const numeric = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(text);
  if (!numeric && !/^[+-]?(nan|inf|infinity)$/.test(text)) return { strip: false, seconds: undefined };
  const value = Number(text);
  return { strip: true, seconds: numeric && Number.isFinite(value) && value > 0 ? value : undefined };
}
