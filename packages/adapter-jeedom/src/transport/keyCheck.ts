import crypto, { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Keys up to this many UTF-8 bytes are compared in a zero-padded slot of this size (Jeedom's
 * are 32 to 64 characters); longer ones by SHA-256 digest.
 */
export const KEY_SLOT_BYTES = 256;

/** SHA-256 of a key: one-shot `crypto.hash` where Node has it (20.12+), about twice as fast. */
const digest: (value: string) => Buffer =
  typeof crypto.hash === 'function' ? (value) => crypto.hash('sha256', value, 'buffer') : (value) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Checks a peer's API key against ours in constant time: neither the content nor the length of
 * our key shows in how long a check takes (§5). Each message used to be hashed to get equal
 * lengths; the hash (and Node's per-call lookup of the algorithm) was a tenth of the command
 * socket's time per message in bench/jeedom. Copying into a fixed-size slot costs a fill and
 * a write, and only the peer's own key length shows in the timing.
 */
export class KeyCheck {
  private readonly expected: Buffer;
  private readonly expectedBytes: number;
  private readonly expectedDigest: Buffer;
  private readonly slot = Buffer.alloc(KEY_SLOT_BYTES);

  constructor(key: string) {
    this.expectedBytes = Buffer.byteLength(key, 'utf8');
    this.expected = Buffer.alloc(KEY_SLOT_BYTES);
    this.expected.write(key, 'utf8');
    this.expectedDigest = digest(key);
  }

  /** Whether `candidate` is our key. */
  matches(candidate: string): boolean {
    const bytes = Buffer.byteLength(candidate, 'utf8');
    if (bytes > KEY_SLOT_BYTES || this.expectedBytes > KEY_SLOT_BYTES) return timingSafeEqual(digest(candidate), this.expectedDigest);
    this.slot.fill(0);
    this.slot.write(candidate, 'utf8');
    // The slot compare always runs over the whole slot; the length check tells "abc" from "abc\0".
    return timingSafeEqual(this.slot, this.expected) && bytes === this.expectedBytes;
  }
}
