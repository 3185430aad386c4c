import type { Socket } from 'node:net';

/** A client socket whose writes can be held for the rest of the turn. */
export interface Holdable {
  /** The TCP socket under the WebSocket: the one a held write sits in. */
  readonly raw: Socket;
  /** True while its socket is corked by {@link TurnWrites}. */
  held: boolean;
}

/**
 * A turn that carried this many frames (all clients together) makes the next one a busy turn.
 * The scenario's one client gets two or three frames a turn; ten clients of a thousand devices
 * get hundreds.
 */
export const BUSY_TURN_FRAMES = 16;

/**
 * One socket write per client per callback, or per turn of the event loop when it is busy,
 * however many frames it sent (issue 20: one `writev` per event per client was a quarter of
 * the gateway's CPU with ten clients). The first frame corks the client's socket.
 * - In a quiet turn a microtask uncorks it, once the callback that made the frame has
 *   returned: a device's two or three values of one report go out together, and no frame
 *   waits for the rest of the turn (waiting doubled the scenario's ws ingest p50, issue 12).
 * - After a turn of {@link BUSY_TURN_FRAMES} frames or more, `setImmediate` uncorks every held
 *   socket once the turn's timers and I/O callbacks have run: devices report from timers and
 *   sockets of their own, so only the turn's end gathers their frames into one `writev`.
 * The frames of each turn are counted once, at its end, whichever way it was written.
 *
 * While held, what the socket buffers includes its own held frames: {@link release} writes
 * them out early, so a backlog bound is judged on what the kernel did not take. The stall check
 * compares bytes that reached the kernel, which held frames do not change.
 */
export class TurnWrites<T extends Holdable> {
  private held: T[] = [];
  private spare: T[] = [];
  private scheduled = false;
  /** Frames held since this turn's first one; judged by `endTurn`. */
  private turnFrames = 0;
  private turnWatched = false;
  /** The last turn with frames was busy: hold this one's until its end. */
  private busy = false;

  /** `flushed` runs for each socket released, once its writes went out. */
  constructor(private readonly flushed: (target: T) => void) {}

  /** Hold `target`'s writes until its callback returns, or the turn ends when busy (no-op if already held). */
  hold(target: T): void {
    this.turnFrames++;
    if (!this.turnWatched) {
      this.turnWatched = true;
      setImmediate(this.endTurn);
    }
    if (target.held) return;
    target.raw.cork();
    target.held = true;
    this.held.push(target);
    if (!this.scheduled) {
      this.scheduled = true;
      if (this.busy) setImmediate(this.flush);
      else queueMicrotask(this.flush);
    }
  }

  /** Write out what `target` holds now; false when it held nothing. */
  release(target: T): boolean {
    if (!target.held) return false;
    target.held = false;
    target.raw.uncork();
    this.flushed(target);
    return true;
  }

  private readonly endTurn = (): void => {
    this.busy = this.turnFrames >= BUSY_TURN_FRAMES;
    this.turnFrames = 0;
    this.turnWatched = false;
  };

  private readonly flush = (): void => {
    this.scheduled = false;
    // Swap, so a hold from inside `flushed` lands in the next list, and no list is allocated per flush.
    const list = this.held;
    this.held = this.spare;
    this.spare = list;
    for (const target of list) this.release(target);
    list.length = 0;
  };
}
