import { createCipheriv, createDecipheriv } from 'node:crypto';

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
