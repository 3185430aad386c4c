import { createCipheriv, createDecipheriv } from 'node:crypto';
import { Base64Pieces } from './base64Pieces.js';

/**
 * The optional payload encryption of comodojo rpcserver/rpcclient 2.0.0 (protocols/comodojo.md §1.9):
 * AES-CBC with a zero IV and PKCS#7 padding; the pre-shared key zero-padded to 16, 24 or 32 bytes.
 */

/** Prefix of an encrypted request `message`. */
export const REQUEST_PREFIX = 'comodojo_encrypted_request-';
/** Prefix of an encrypted response `message`. */
export const RESPONSE_PREFIX = 'comodojo_encrypted_response-';

const ZERO_IV = Buffer.alloc(16);

/** The cipher name and key bytes for a pre-shared key (phpseclib 2 defaults). */
function keyFor(secret: string): { algorithm: string; key: Buffer } {
  const raw = Buffer.from(secret, 'utf8');
  const size = raw.length <= 16 ? 16 : raw.length <= 24 ? 24 : 32;
  const key = Buffer.alloc(size);
  raw.copy(key, 0, 0, size);
  return { algorithm: `aes-${size * 8}-cbc`, key };
}

/** Encrypts a plain payload; returns base64 ciphertext (no prefix). */
export function encryptPayload(secret: string, plain: string): string {
  const { algorithm, key } = keyFor(secret);
  const cipher = createCipheriv(algorithm, key, ZERO_IV);
  return Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]).toString('base64');
}

/** Decrypts base64 ciphertext (no prefix) to the plain payload's bytes. Throws on a bad key, bad padding or bad base64. */
export function decryptPayload(secret: string, encoded: string): Buffer {
  const { algorithm, key } = keyFor(secret);
  const data = Buffer.from(encoded, 'base64');
  if (data.length === 0 || data.length % 16 !== 0) throw new Error('ciphertext is not a whole number of AES blocks');
  const decipher = createDecipheriv(algorithm, key, ZERO_IV);
  return Buffer.concat([decipher.update(data), decipher.final()]);
}

/** Characters of a large answer encrypted per turn of the event loop. */
const ENCRYPT_PIECE_CHARS = 256 * 1024;

/**
 * {@link encryptPayload} for a large answer (issue 13.8): the cipher and the base64 run a piece
 * at a time, with a turn of the event loop between, and give the same text.
 */
export async function encryptPayloadSliced(secret: string, plain: string): Promise<string> {
  const { algorithm, key } = keyFor(secret);
  const cipher = createCipheriv(algorithm, key, ZERO_IV);
  const base64 = new Base64Pieces();
  for (let at = 0; at < plain.length; ) {
    let end = Math.min(at + ENCRYPT_PIECE_CHARS, plain.length);
    // A surrogate pair stays in one piece, so the pieces' UTF-8 is the whole's.
    const last = plain.charCodeAt(end - 1);
    if (end < plain.length && last >= 0xd800 && last <= 0xdbff) end++;
    base64.push(cipher.update(plain.slice(at, end), 'utf8'));
    at = end;
    await new Promise((resolve) => setImmediate(resolve));
  }
  base64.push(cipher.final());
  return base64.end().join('');
}
