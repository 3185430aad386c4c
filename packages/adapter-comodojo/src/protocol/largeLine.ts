/**
 * Issue 13.8: a large line's bytes, gathered as its reads arrive, for the decode worker to take
 * over. A read's bytes are kept where they are when they can be: the read's own memory is then
 * transferred to the worker, and this thread neither copies them nor touches new pages for
 * them. Profiled with a 12.7 MB XML-RPC frame in flight, copying every read into fresh 1 MiB
 * blocks was the gateway thread's largest cost (page faults on new memory included) and ran in
 * stretches of 10-18 ms; a second 17 MB of external memory per frame also brought major GCs on.
 *
 * A read is copied instead when keeping it would cost more than copying:
 * - it is small (pieces would grow faster in count than in bytes: a trickle of one-byte reads);
 * - bytes after the line's end in it belong to the next lines, so its memory cannot move;
 * - it does not own its memory (a view into a larger buffer: moving that would move others' bytes);
 * - it came before the line reached the large size (at most that size, copied once).
 * Copied bytes go into blocks of COPY_BLOCK; a block closed less than half full is cut down to
 * its bytes, so copied bytes take at most twice their size.
 */

/** A read of at least this many bytes is kept rather than copied (a loopback read is 64 KiB). */
export const KEEP_AT = 16 * 1024;
/** Size of a block that copied bytes go into. */
export const COPY_BLOCK = 64 * 1024;

/** The pieces of one large line, in order. */
export class LargeLineBuilder {
  private readonly pieces: Buffer[] = [];
  private block: Buffer | undefined;
  private filled = 0;
  /** Bytes gathered so far. */
  length = 0;

  /**
   * Adds `piece`. `movable`: its buffer holds nothing else anyone still needs (a read of its
   * own, with the bytes before the piece consumed and none after it to come), so the piece
   * may be kept, and its buffer moved, instead of copied.
   */
  add(piece: Buffer, movable: boolean): void {
    this.length += piece.length;
    const room = this.block ? this.block.length - this.filled : 0;
    if (movable && piece.length >= KEEP_AT && piece.length > room) {
      this.closeBlock();
      this.pieces.push(piece);
      return;
    }
    for (let from = 0; from < piece.length; ) {
      if (!this.block || this.filled === this.block.length) {
        this.closeBlock();
        // Unpooled, so that the block can be transferred to the worker.
        this.block = Buffer.allocUnsafeSlow(COPY_BLOCK);
      }
      const copied = piece.copy(this.block, this.filled, from);
      from += copied;
      this.filled += copied;
    }
  }

  /** The line's pieces; the builder is spent. */
  finish(): Buffer[] {
    this.closeBlock();
    return this.pieces;
  }

  private closeBlock(): void {
    const block = this.block;
    if (!block) return;
    this.block = undefined;
    if (this.filled >= block.length / 2) this.pieces.push(block.subarray(0, this.filled));
    else {
      const cut = Buffer.allocUnsafeSlow(this.filled);
      block.copy(cut, 0, 0, this.filled);
      this.pieces.push(cut);
    }
    this.filled = 0;
  }
}
