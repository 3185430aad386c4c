import type { Socket } from 'zeromq';

/** Anything a zeromq.js `send` accepts as one message. */
export type Frames = (Buffer | string)[];

interface Writable {
  send(message: Frames): Promise<void>;
}

/**
 * Serialises every send on one socket (§6, §11.22): zeromq.js rejects a second `send()`
 * while one is pending (`EBUSY`), and a heartbeat timer, replies and publications all share
 * their socket. Sends resolve in order; a failed send rejects only its own promise.
 */
export class SendQueue {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;

  constructor(private readonly socket: Writable | Socket) {}

  /** Queue one message; resolves once zeromq has taken it. */
  send(frames: Frames): Promise<void> {
    const socket = this.socket as Writable;
    let result: Promise<void>;
    if (this.pending === 0) {
      // Fast path: nothing in flight, hand it over now.
      result = socket.send(frames);
    } else {
      result = this.tail.then(() => socket.send(frames));
    }
    this.pending++;
    const settled = result.then(
      () => {
        this.pending--;
      },
      () => {
        this.pending--;
      },
    );
    this.tail = settled;
    return result;
  }

  /** Resolves once everything queued so far has been handed to zeromq (or failed). */
  drained(): Promise<void> {
    return this.tail;
  }
}
