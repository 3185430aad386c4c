import type { Socket } from 'node:net';
import { describeError } from '@patchbay/core';

/** The reference readers' limit: one `Read`/`recv` of 4096 bytes (protocols/tracim.md §2.4). */
export const MAX_WIRE_BYTES = 4096;
/** Inbound cap: anything longer is not a DaemonEvent any reference writer produces (§10). */
export const MAX_INBOUND_BYTES = 64 * 1024;

/** Wire `type` strings (§4); `patchbay_*` are Patchbay's own command extension. */
export const EventTypes = {
  clientAdd: 'daemon_client_add',
  clientDelete: 'daemon_client_delete',
  getClients: 'daemon_get_clients',
  getAccountInfo: 'daemon_get_account_info',
  doRequest: 'daemon_do_request',
  ack: 'daemon_ack',
  ping: 'daemon_ping',
  pong: 'daemon_pong',
  accountInfo: 'daemon_account_info',
  clients: 'daemon_clients',
  tracimEvent: 'daemon_tracim_event',
  clientAdded: 'daemon_client_added',
  clientDeleted: 'daemon_client_deleted',
  patchbayCommand: 'patchbay_command',
  patchbayReply: 'patchbay_reply',
} as const;

/** One DaemonEvent as read from the wire (§3): `data` may be absent, null or anything. */
export interface DaemonEvent {
  path: string;
  type: string;
  data?: unknown;
}

/** A registered client as the protocol lists it (§5.1): `pid` is always a decimal string. */
export interface ClientData {
  path: string;
  pid: string;
}

/**
 * Serialises an envelope with the reference key order `path`, `type`, `data`, leaving `data`
 * out when there is none (§3, M5), compact, with no trailing newline (§2.3).
 */
export function encodeEnvelope(path: string, type: string, data?: unknown): Buffer {
  const head = '{"path":' + JSON.stringify(path) + ',"type":' + JSON.stringify(type);
  return Buffer.from(data === undefined ? head + '}' : head + ',"data":' + JSON.stringify(data) + '}');
}

/** Why an inbound message was refused, for the one log line it gets. */
export type DecodeResult = { ok: true; event: DaemonEvent } | { ok: false; reason: string };

/** Parses one inbound message; tolerant of whitespace, `data` absent or null (§3, M6). */
export function decodeEnvelope(bytes: Buffer): DecodeResult {
  const text = bytes.toString('utf8');
  if (text.trim().length === 0) return { ok: false, reason: 'empty connection (nothing sent before close)' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `invalid JSON (${describeError(error)})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'not a JSON object' };
  // The Go master matches keys case-insensitively (§3): accept "Path"/"Type" as it would.
  const record = value as Record<string, unknown>;
  const path = pick(record, 'path');
  const type = pick(record, 'type');
  if (typeof type !== 'string' || type.length === 0) return { ok: false, reason: 'no "type" string' };
  if (typeof path !== 'string' || path.length === 0) return { ok: false, reason: `no "path" string (type ${type})` };
  return { ok: true, event: { path, type, data: pick(record, 'data') } };
}

function pick(record: Record<string, unknown>, key: string): unknown {
  if (key in record) return record[key];
  for (const k of Object.keys(record)) if (k.toLowerCase() === key) return record[k];
  return undefined;
}

/**
 * Reads one inbound connection to EOF (§2.2: the message ends when the sender closes), with
 * a time limit and a byte cap. Resolves with the bytes or a reason; never writes back (M3).
 */
export function readToEof(socket: Socket, limits: { timeoutMs: number; maxBytes: number }): Promise<{ ok: true; bytes: Buffer } | { ok: false; reason: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: { ok: true; bytes: Buffer } | { ok: false; reason: string }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      resolve(result);
    };
    const timer = setTimeout(() => {
      finish({ ok: false, reason: `no end of message within ${limits.timeoutMs} ms (${size} bytes read)` });
      socket.destroy();
    }, limits.timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limits.maxBytes) {
        finish({ ok: false, reason: `message over the ${limits.maxBytes}-byte cap (at least ${size} bytes)` });
        socket.destroy();
        return;
      }
      chunks.push(chunk);
    });
    socket.on('end', () => {
      finish({ ok: true, bytes: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks) });
      // Half-close our side without a byte: the reply goes on a new connection (§2.2, M3).
      socket.end();
    });
    socket.on('error', (error) => finish({ ok: false, reason: `read failed: ${error.message}` }));
    socket.on('close', () => finish({ ok: false, reason: 'connection closed before end of message' }));
  });
}

/** A Tracim Live Message (§8.2). */
export interface Tlm {
  event_id: number;
  event_type: string;
  created: string | null;
  read: null;
  fields: Record<string, unknown>;
}

// The second last formatted: the TLMs of a burst share it, and toISOString costs more than
// the rest of a state TLM's fields (issue 12 acceptance 5).
let lastSecond = Number.NaN;
let lastCreated = '';

/** `created` as Tracim writes it: `%Y-%m-%dT%H:%M:%SZ`, UTC, no fraction (§8.2, K5). */
export function tlmTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  // NaN never equals itself: an invalid time still throws, as toISOString does.
  if (second !== lastSecond) {
    lastCreated = new Date(ms).toISOString().slice(0, 19) + 'Z';
    lastSecond = second;
  }
  return lastCreated;
}

/**
 * Applies the size policy to a `daemon_tracim_event` whose TLM text makes the envelope too
 * big (§10): blank the largest strings of the TLM (`raw_content` first) until it fits.
 * Returns the new envelope and what was blanked, or undefined when it cannot fit.
 */
export function shrinkTlmEnvelope(masterPath: string, tlmText: string): { bytes: Buffer; blanked: string[] } | undefined {
  let tlm: unknown;
  try {
    tlm = JSON.parse(tlmText);
  } catch {
    return undefined;
  }
  if (typeof tlm !== 'object' || tlm === null) return undefined;
  const strings: { holder: Record<string, unknown>; key: string; where: string; size: number }[] = [];
  collectStrings(tlm as Record<string, unknown>, '', strings);
  // raw_content is the usual culprit (§8.4): blank it first, then the others largest first.
  strings.sort((a, b) => Number(b.key === 'raw_content') - Number(a.key === 'raw_content') || b.size - a.size);
  const blanked: string[] = [];
  for (const s of strings) {
    if (s.size === 0 || s.key === 'event_type' || s.key === 'created') continue;
    s.holder[s.key] = '';
    blanked.push(s.where);
    const bytes = encodeEnvelope(masterPath, EventTypes.tracimEvent, JSON.stringify(tlm));
    if (bytes.length <= MAX_WIRE_BYTES) return { bytes, blanked };
  }
  return undefined;
}

function collectStrings(node: Record<string, unknown>, prefix: string, out: { holder: Record<string, unknown>; key: string; where: string; size: number }[]): void {
  for (const [key, value] of Object.entries(node)) {
    const where = prefix ? `${prefix}.${key}` : key;
    if (typeof value === 'string') out.push({ holder: node, key, where, size: value.length });
    else if (typeof value === 'object' && value !== null) collectStrings(value as Record<string, unknown>, where, out);
  }
}

/** A `pid` as the SDKs write it: a decimal string (K7); numbers are accepted and converted (§10). */
export function pidString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(Math.trunc(value));
  return '0';
}
