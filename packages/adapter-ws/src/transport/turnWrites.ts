import type { Socket } from 'node:net';

/** A client socket whose writes can be held for the rest of the turn. */
export interface Holdable {
  /** The TCP socket under the WebSocket: the one a held write sits in. */
  readonly raw: Socket;
  /** True while its socket is corked by {@link TurnWrites}. */
  held: boolean;
}

/**
 * One socket write per client per turn of the event loop, however many frames the turn sent it
 * (issue 20: one `writev` per event per client was a quarter of the gateway's CPU with ten
 * clients). The first frame of a turn corks the client's socket; `setImmediate` uncorks every
 * held socket once the turn's timers and I/O callbacks have run, and each goes to the kernel
 * as one `writev`. Not a microtask: devices report from timers and sockets of their own, two or
 * three values per callback, so a microtask would batch next to nothing; a frame waits at most
 * for the rest of the turn that produced it.
 *
 * While held, what the socket buffers includes this turn's own frames: {@link release} writes
 * them out early, so a backlog bound is judged on what the kernel did not take. The stall check
 * compares bytes that reached the kernel, which held frames do not change.
 */
export class TurnWrites<T extends Holdable> {
  private held: T[] = [];
  private spare: T[] = [];
  private scheduled = false;

  /** `flushed` runs for each socket released at the end of a turn, once its writes went out. */
  constructor(private readonly flushed: (target: T) => void) {}

  /** Hold `target`'s writes until the end of this turn (no-op if already held). */
  hold(target: T): void {
    if (target.held) return;
    target.raw.cork();
    target.held = true;
    this.held.push(target);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
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

  private readonly flush = (): void => {
    this.scheduled = false;
    // Swap, so a hold from inside `flushed` lands in the next turn's list, and no list is allocated per turn.
    const list = this.held;
    this.held = this.spare;
    this.spare = list;
    for (const target of list) this.release(target);
    list.length = 0;
  };
}
