import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { FrameBatch } from './frameBatch.js';

/** What {@link ClientWrites} keeps on each client. */
export interface WritableClient {
  socket: WebSocket;
  /** The TCP socket under it: the turn's batch is written there, under ws. */
  raw: Socket;
  /** Bytes of this turn's broadcasts ({@link FrameBatch}) it has been given. */
  batchFrom: number;
  /**
   * The batch's length past which its backlog, with the part of the batch it has not been given,
   * would pass its bound: the next broadcast then judges it.
   */
  crossAt: number;
  /**
   * The size of its snapshot, bytes, allowed on top of `maxBufferedBytes` until its backlog
   * first falls within the bound: the snapshot of 10,000 devices is about 12 MB, and a client
   * that is reading it has not stopped reading (the stall check catches one that never reads).
   */
  snapshotAllowance: number;
}

/**
 * Every write to the ws clients, under one bound on each client's unsent backlog. Broadcasts
 * are framed once into the turn's batch, which goes to every client in one write (FrameBatch):
 * ws would otherwise convert the string and frame it per send. The batch is written straight
 * to the socket under ws: with no compression its own sends are written at once too, so every
 * frame keeps its order, and its bufferedAmount counts what the socket holds. A client whose
 * backlog passes `maxBufferedBytes` is handed to `overBound` (the server drops it).
 */
export class ClientWrites<C extends WritableClient> {
  private readonly batch = new FrameBatch((batch) => this.writeBatch(batch));
  /** The lowest `crossAt` of any client (a client gone since may have left it lower): past it, a broadcast judges clients. */
  private crossAt = Number.POSITIVE_INFINITY;
  /** The largest unsent backlog any client had after a write to it. */
  maxBufferedSeen = 0;

  constructor(
    private readonly clients: Set<C>,
    private readonly options: { maxBufferedBytes: number; overBound(client: C): void },
  ) {}

  /** Where a client that joins now starts in this turn's batch: it gets only what comes after. */
  get joinAt(): number {
    return this.batch.bytes;
  }

  /** A frame for every client. */
  broadcast(text: string): void {
    if (this.batch.bytes > this.crossAt) this.judge();
    this.batch.add(text, this.clients.size);
  }

  /**
   * A frame of this client's own (its snapshot, its health, a reply, a refusal): written now,
   * after what it has not had of this turn's broadcasts, in one write (a relay's new state, then
   * its reply). Held to a busy turn's end, a reply waited behind every device of that turn; held
   * even to the callback's end, a cork and its microtask were a third of the gateway's share of a
   * round trip (issue 12).
   */
  send(client: C, data: string | Buffer): void {
    const raw = client.raw;
    raw.cork();
    try {
      if (!this.admits(client)) return;
      client.socket.send(data, { binary: false });
    } finally {
      raw.uncork();
    }
    this.measure(client);
    this.rebound(client);
  }

  /** `client`'s `crossAt` from its backlog now (after its snapshot allowance changed). */
  rebound(client: C): void {
    if (client.socket.readyState !== WebSocket.OPEN) return;
    client.crossAt = this.backlogBound(client) - client.socket.bufferedAmount + client.batchFrom;
    if (client.crossAt < this.crossAt) this.crossAt = client.crossAt;
  }

  /** The turn's broadcasts go out: each client gets what it has not had of them, in one write. */
  private writeBatch(batch: Buffer): void {
    let crossAt = Number.POSITIVE_INFINITY;
    for (const client of this.clients) {
      const from = client.batchFrom;
      client.batchFrom = 0;
      if (client.socket.readyState !== WebSocket.OPEN) continue;
      if (from < batch.length) client.raw.write(from === 0 ? batch : batch.subarray(from));
      this.measure(client);
      client.crossAt = this.backlogBound(client) - client.socket.bufferedAmount;
      if (client.crossAt < crossAt) crossAt = client.crossAt;
    }
    this.crossAt = crossAt;
  }

  /**
   * The frames batched so far have taken some client's backlog, with its part of the batch,
   * past its bound (`crossAt`): before the next frame, each such client is given its part now,
   * judged on what the kernel did not take, and dropped if that is still over the bound. So a
   * backlog never passes the bound by more than one frame. A client that stays near its bound
   * is judged at every broadcast: one write per frame for it, as before batches.
   */
  private judge(): void {
    let crossAt = Number.POSITIVE_INFINITY;
    for (const client of [...this.clients]) {
      if (this.batch.bytes > client.crossAt && !this.admits(client)) continue;
      if (client.crossAt < crossAt) crossAt = client.crossAt;
    }
    this.crossAt = crossAt;
  }

  /**
   * False when `client` cannot take another frame: closing, or over its bound (handed to
   * `overBound`). It is given its part of this turn's broadcasts first, and judged with it.
   */
  private admits(client: C): boolean {
    const socket = client.socket;
    if (socket.readyState !== WebSocket.OPEN) return false;
    const part = this.batch.since(client.batchFrom);
    client.batchFrom = this.batch.bytes;
    if (part !== undefined) {
      client.raw.write(part);
      this.measure(client);
    }
    if (socket.bufferedAmount > this.backlogBound(client)) {
      this.options.overBound(client);
      return false;
    }
    this.rebound(client);
    return true;
  }

  /** The backlog past which `client` is dropped: `maxBufferedBytes`, plus its snapshot until that has gone out. */
  private backlogBound(client: C): number {
    const max = this.options.maxBufferedBytes;
    if (client.snapshotAllowance > 0 && client.socket.bufferedAmount <= max) client.snapshotAllowance = 0;
    return max + client.snapshotAllowance;
  }

  /** What the kernel has not taken after a write: the high-water mark of the backlog. */
  private measure(client: C): void {
    if (client.socket.readyState !== WebSocket.OPEN) return;
    const buffered = client.socket.bufferedAmount;
    if (buffered > this.maxBufferedSeen) this.maxBufferedSeen = buffered;
  }
}
