import { isUtf8 } from 'node:buffer';
import { decryptPayload, REQUEST_PREFIX } from './encryption.js';
import type { RequestFrame } from './framing.js';
import { RpcError } from './registry.js';
import type { XmlCall } from './xmlDecode.js';

/**
 * The first half of answering a request frame: decryption, the protocol choice of §1.8 and the
 * payload's decoding, up to the point where a method would run. It needs nothing of the
 * gateway, so a large frame's can run in the decode worker (decodePool.ts) and only the
 * decoded values come back; what it returns is plain data, safe to post between threads.
 */

/** Most calls in one JSON-RPC batch (the spec sets none; 50,000 held the event loop ~0.5 s). */
export const MAX_BATCH = 1000;

/** A request the payload's decoding already answers: an RPC error, before any method runs. */
export interface Refusal {
  kind: 'refused';
  code: number;
  message: string;
  /** For the one bad-request log line; absent where the reference logs none (an empty batch). */
  reason?: string;
  /** Decoding failed with something other than an RpcError: logged as internal (-32603). */
  internal?: string;
}

/** What a request frame's payload decodes to. */
export type DecodedPayload = { kind: 'json'; value: unknown } | { kind: 'xml'; call: XmlCall } | Refusal;

/** A decoded request: its protocol, whether the reply must be encrypted, and its payload. */
export interface DecodedRequest {
  protocol: 'json' | 'xml';
  /** The request was encrypted and decrypted: the reply is encrypted too (§1.9). */
  encrypted: boolean;
  payload: DecodedPayload;
}

/** How {@link decodeRequestPayload} decodes; the XML decoder is the sliced one on the main thread, the plain one in the worker. */
export interface PayloadOptions {
  encryptionKey?: string | undefined;
  decodeXml(payload: Buffer): XmlCall | Promise<XmlCall>;
}

const refuse = (error: RpcError, reason?: string): Refusal => ({ kind: 'refused', code: error.code, message: error.message, ...(reason === undefined ? {} : { reason }) });

/** Decrypts (§1.9) and decodes one request frame's payload; never throws. */
export async function decodeRequestPayload(frame: RequestFrame, options: PayloadOptions): Promise<DecodedRequest> {
  return decodeRequestPayloadNow(frame, options);
}

/**
 * {@link decodeRequestPayload} without a promise where none is needed: a JSON payload (the
 * usual call) is decoded within this turn; only XML, whose decoder may take turns, gives a promise.
 */
export function decodeRequestPayloadNow(frame: RequestFrame, options: PayloadOptions): DecodedRequest | Promise<DecodedRequest> {
  const protocol = frame.contentType === 'application/json' ? 'json' : 'xml';
  let payload = frame.message;
  let encrypted = false;
  if (payload.length >= REQUEST_PREFIX.length && payload.toString('latin1', 0, REQUEST_PREFIX.length) === REQUEST_PREFIX) {
    const key = options.encryptionKey;
    // §1.9: no key -> -32300 in plain text; a failed decryption -> -32300, encrypted.
    if (!key) return { protocol, encrypted: false, payload: refuse(RpcError.of('transport'), 'encrypted request but no encryptionKey is configured') };
    try {
      payload = decryptPayload(key, payload.toString('latin1', REQUEST_PREFIX.length));
    } catch {
      return { protocol, encrypted: true, payload: refuse(RpcError.of('transport'), 'encrypted request that does not decrypt with the configured key') };
    }
    encrypted = true;
  }
  if (protocol === 'json') return { protocol, encrypted, payload: decodeJson(payload) };
  return decodeXml(payload, options).then((decoded) => ({ protocol, encrypted, payload: decoded }));
}

/** JSON-RPC 2.0 text to a value, with the checks of §2.1/§2.3 that need no method. */
function decodeJson(payload: Buffer): DecodedPayload {
  // The stock daemon's json_decode refuses invalid UTF-8 (-32700); never replace bytes silently.
  if (!isUtf8(payload)) return refuse(RpcError.of('parse'), 'payload is not valid UTF-8');
  const text = payload.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Blank text never parses, so only a failed parse needs the trim (a copy of the payload) to tell -32600 from -32700.
    if (text.trim() === '') return refuse(RpcError.of('invalidRequest'), 'empty JSON-RPC payload');
    parsed = null;
  }
  if (parsed === null) return refuse(RpcError.of('parse'), 'payload is not valid JSON');
  if (Array.isArray(parsed)) {
    if (parsed.length === 0) return refuse(RpcError.of('invalidRequest'));
    if (parsed.length > MAX_BATCH) return refuse(RpcError.of('invalidRequest'), `JSON-RPC batch of ${parsed.length} calls (at most ${MAX_BATCH})`);
  }
  return { kind: 'json', value: parsed };
}

async function decodeXml(payload: Buffer, options: PayloadOptions): Promise<DecodedPayload> {
  try {
    return { kind: 'xml', call: await options.decodeXml(payload) };
  } catch (error) {
    if (!(error instanceof RpcError)) return { kind: 'refused', code: -32603, message: 'Internal error', internal: error instanceof Error ? error.message : String(error) };
    return refuse(error, error.code === -32700 || error.code === -32600 ? `XML-RPC: ${error.detail ?? error.message}` : undefined);
  }
}
