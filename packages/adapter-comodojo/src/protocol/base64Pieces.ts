/** Issue 13.8: base64 built a piece at a time, for the large answers encoded in slices (framing.ts, encryption.ts). */

/** Base64 of a byte stream given in pieces: 0-2 bytes carried between them, so the text is that of the whole. */
export class Base64Pieces {
  private carry: Buffer = Buffer.alloc(0);
  private readonly out: string[] = [];

  /** Adds the next bytes. */
  push(bytes: Buffer): void {
    const all = this.carry.length === 0 ? bytes : Buffer.concat([this.carry, bytes]);
    const cut = all.length - (all.length % 3);
    if (cut > 0) this.out.push(all.toString('base64', 0, cut));
    this.carry = Buffer.from(all.subarray(cut));
  }

  /** The text in pieces, the carried bytes' last; the instance is spent. */
  end(): string[] {
    if (this.carry.length > 0) this.out.push(this.carry.toString('base64'));
    return this.out;
  }
}
