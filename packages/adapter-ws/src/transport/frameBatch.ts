import { textFrameBytes, writeTextFrameHeader } from '../protocol/frame.js';

/**
 * A turn whose broadcasts came to this many frames for all clients together (one per client a
 * frame went to) makes the next one a busy turn. The scenario's one client gets two or three
 * frames a turn; ten clients of a thousand devices get hundreds.
 */
export const BUSY_TURN_FRAMES = 16;

/** Memory taken for batches at a time: the frames of many turns share one allocation. */
const CHUNK_BYTES = 64 * 1024;

/**
 * The broadcasts of one callback (of one turn, when busy), framed once into one buffer that
 * every client's socket is then given in one write (issue 20). Before, each frame was written to
 * each client's corked socket: with ten clients at 10,000 values/s, a hundred thousand buffered
 * writes a second, each an object that lived until the turn's `writev`, and a sixth of what the
 * gateway's young generation promoted. Now a broadcast costs the same for one client as for ten.
 * - In a quiet turn a microtask flushes the batch, once the callback that made the frame has
 *   returned: a device's two or three values of one report go out together, and no frame
 *   waits for the rest of the turn (waiting doubled the scenario's ws ingest p50, issue 12).
 * - After a turn of {@link BUSY_TURN_FRAMES} frames or more, `setImmediate` flushes it once the
 *   turn's timers and I/O callbacks have run: devices report from timers and sockets of their
 *   own, so only the turn's end gathers their frames into one write.
 *
 * A client may be given its part of the batch early (`since`): the server does so before a
 * frame of its own (a reply, its health), so that it keeps its order, and when the client's
 * backlog is to be judged. What a socket was given stays valid: later frames go after it, and a
 * batch that outgrows its buffer moves to a new one.
 */
export class FrameBatch {
  private buffer = Buffer.allocUnsafe(0);
  /** Where this batch starts in `buffer`: the batches before it are still in sockets' hands. */
  private start = 0;
  /** This batch's length so far, bytes. */
  bytes = 0;
  private scheduled = false;
  /** Frames times clients since this turn's first one; judged by `endTurn`. */
  private turnFrames = 0;
  private turnWatched = false;
  /** The last turn with frames was busy: hold this one's until its end. */
  private busy = false;

  /** `flushed` gets the whole batch when it goes out; a frame added from inside it goes in the next one. */
  constructor(private readonly flushed: (batch: Buffer) => void) {}

  /** Frames `text` into the batch, for `readers` clients. */
  add(text: string, readers: number): void {
    const length = Buffer.byteLength(text);
    const frameBytes = textFrameBytes(length);
    if (this.start + this.bytes + frameBytes > this.buffer.length) this.grow(frameBytes);
    const payloadAt = writeTextFrameHeader(this.buffer, this.start + this.bytes, length);
    this.buffer.write(text, payloadAt, length, 'utf8');
    this.bytes += frameBytes;
    this.turnFrames += readers;
    if (!this.turnWatched) {
      this.turnWatched = true;
      setImmediate(this.endTurn);
    }
    if (!this.scheduled) {
      this.scheduled = true;
      if (this.busy) setImmediate(this.flush);
      else queueMicrotask(this.flush);
    }
  }

  /** The batch from byte `from` on, for a client that has had `from` bytes of it; undefined when that is all. */
  since(from: number): Buffer | undefined {
    return from < this.bytes ? this.buffer.subarray(this.start + from, this.start + this.bytes) : undefined;
  }

  private grow(frameBytes: number): void {
    const next = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, 2 * (this.bytes + frameBytes)));
    this.buffer.copy(next, 0, this.start, this.start + this.bytes);
    this.buffer = next;
    this.start = 0;
  }

  private readonly endTurn = (): void => {
    this.busy = this.turnFrames >= BUSY_TURN_FRAMES;
    this.turnFrames = 0;
    this.turnWatched = false;
  };

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.bytes === 0) return;
    const batch = this.buffer.subarray(this.start, this.start + this.bytes);
    this.start += this.bytes;
    this.bytes = 0;
    this.flushed(batch);
  };
}
