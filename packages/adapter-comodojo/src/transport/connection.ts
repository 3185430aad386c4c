import { describeError, PatchbayError, type Counter, type InputBudget, type Logger } from '@patchbay/core';
import type { Socket } from 'node:net';
import { decodeRequestNow, encodeResponse, encodeResponseSliced, GREETER, LineSplitter, SLICED_ANSWER_CHARS, type LargeLine, type ResponseFrame } from '../protocol/framing.js';
import type { DecodePool } from '../protocol/decodePool.js';
import type { CallHooks, RpcEngine } from '../protocol/rpcEngine.js';

/** What each connection of a {@link ComodojoServer} needs: its limits, the engine and decoder, and where to report. */
export interface ConnectionOptions {
  maxFrameBytes: number;
  /** Unanswered input held across all connections (partial frames and frames being handled). */
  maxBufferedBytes: number;
  /** The gateway-wide input budget, drawn on beside `maxBufferedBytes` (absent: this listener's alone). */
  gatewayBudget?: InputBudget;
  /**
   * A connection must complete a frame within this many ms of its accept or of its previous
   * frame; bytes that trickle in do not extend it (§8 item 41, issue 13.7).
   */
  frameTimeoutMs: number;
  engine: RpcEngine;
  /** Decodes frames of {@link OFFLOAD_BYTES} or more off this thread (issue 13.8). */
  decoder: DecodePool;
  logger: Logger;
  counters: { badFrames: Counter; requests: Counter };
}

/**
 * Frames this long or longer are decoded by the decode worker; shorter ones here, where a
 * thread hop would cost more than the decoding (256 KiB of base64 is about 1 ms of work).
 */
export const OFFLOAD_BYTES = 256 * 1024;

/** Input a connection may hold without drawing on the listener's budget: a usual request fits. */
const FREE_BYTES = 64 * 1024;

// Per-connection back-pressure: stop reading while this much is queued or unsent.
const MAX_PIPELINED = 64;
const MAX_UNSENT_BYTES = 4 * 1024 * 1024;

/**
 * One frame's answer: the hooks its call gets, then the response frame ready to write (a large
 * one in pieces, written a piece a turn) and what to run once it is written.
 */
class Answer implements CallHooks {
  /** Run once the text is written (daemon.shutdown); most calls have none. */
  after: (() => void)[] | undefined;

  constructor(public text: string | string[] = '') {}

  afterResponse(fn: () => void): void {
    (this.after ??= []).push(fn);
  }

  /** The write callback: runs what was asked for after the response, if anything. */
  written(): (() => void) | undefined {
    const after = this.after;
    return after === undefined ? undefined : () => after.forEach((fn) => fn());
  }
}

/** A large response message, encoded in slices (issue 13.8); a usual one pays no extra await. */
function isLarge(response: ResponseFrame): boolean {
  return response.message !== null && response.message.length >= SLICED_ANSWER_CHARS;
}

/** One client connection: split lines, answer each frame, write answers in request order. */
export class Connection {
  private readonly splitter: LineSplitter;
  /** Answers in request order: one made within its frame's turn is queued as it is, one still under way as its promise. */
  private readonly pending: (Answer | Promise<Answer>)[] = [];
  private flushing = false;
  private closing = false;
  /** Refused (too large, over budget): nothing more is written. */
  private refused = false;
  private deadline: NodeJS.Timeout | undefined;
  /** When the connection was accepted or last completed a frame (epoch ms). */
  lastFrameAt = Date.now();
  /** Bytes of frames received and not yet answered. */
  private inFlight = 0;
  /** What this connection draws on the listener's budget now. */
  private charged = 0;

  readonly id: number;
  private readonly options: ConnectionOptions;
  /** The listener's budget of buffered bytes, shared by its connections. */
  private readonly budget: { used: number; peak: number };

  constructor(
    private readonly socket: Socket,
    shared: { id: number; options: ConnectionOptions; budget: { used: number; peak: number } },
  ) {
    ({ id: this.id, options: this.options, budget: this.budget } = shared);
    this.splitter = new LineSplitter(shared.options.maxFrameBytes, OFFLOAD_BYTES);
  }

  /** Nothing buffered and nothing being answered: closing it loses no request. */
  get idle(): boolean {
    return this.pending.length === 0 && this.splitter.buffered === 0;
  }

  destroy(): void {
    this.socket.destroy();
    this.release();
  }

  start(onClose: () => void): void {
    const { socket } = this;
    socket.setNoDelay(true);
    socket.on('error', () => undefined); // a reset peer: 'close' follows
    socket.on('close', () => {
      clearTimeout(this.deadline);
      this.closing = true;
      this.release();
      onClose();
    });
    this.armDeadline();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.maybeResume());
    // §1.2: the greeter goes out at once; the client sends nothing first.
    socket.write(GREETER);
  }

  private warn(reason: string, context: Record<string, unknown> = {}): void {
    this.options.counters.badFrames.inc();
    this.options.logger.warn({ connection: this.id, ...context }, `comodojo: connection ${this.id}: ${reason}`);
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    let lines: (string | LargeLine)[];
    try {
      lines = this.splitter.push(chunk);
    } catch (error) {
      // §1.3: unterminated input past the limit closes the connection.
      this.warn(`${describeError(error)}; closing`);
      this.refuse('Frame too large');
      return;
    }
    let answered = 0;
    for (const line of lines) {
      if (line === '') {
        // §1.3: a blank line is a hangup: no response; close once earlier answers are out.
        this.closing = true;
        void this.closeAfterPending();
        break;
      }
      this.inFlight += line.length;
      const answer = this.answerNow(line);
      if (answer instanceof Promise) this.pending.push(this.settleLater(answer, line.length));
      else {
        answered += line.length;
        this.pending.push(answer);
      }
    }
    // The deadline timer is not moved here: it reads lastFrameAt when it fires (a timer per frame cost ~5 % of calls/s).
    if (lines.length > 0) this.lastFrameAt = Date.now();
    const spent = this.charge();
    if (spent !== undefined) {
      this.warn(`${spent}; closing this connection (${this.splitter.buffered + this.inFlight} bytes held)`);
      this.refuse('Server busy');
      return;
    }
    // Frames answered already are given back only now, after the budget saw every frame of this read, as when each answer took a turn.
    if (answered > 0 && !this.closing) {
      this.inFlight -= answered;
      this.charge();
    }
    if (this.splitter.buffered >= OFFLOAD_BYTES) this.options.decoder.warm();
    if (this.pending.length > MAX_PIPELINED) this.socket.pause();
    this.flush();
  }

  /** Answers `message` as a failed frame and closes; what it held goes back to the budget. */
  private refuse(message: string): void {
    this.closing = true;
    this.refused = true;
    this.pending.length = 0;
    this.socket.end(encodeResponse({ status: false, message }));
    this.release();
    // A peer that does not read its refusal must not keep the socket.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /**
   * Draws what this connection holds beyond FREE_BYTES on the listener's budget and the
   * gateway's (or gives back what it no longer holds); says which is spent when one is.
   */
  private charge(): string | undefined {
    const want = Math.max(0, this.splitter.buffered + this.inFlight - FREE_BYTES);
    const more = want - this.charged;
    const { gatewayBudget, maxBufferedBytes } = this.options;
    if (more > 0) {
      if (this.budget.used + more > maxBufferedBytes) return `the listener's input budget (maxBufferedBytes ${maxBufferedBytes}) is spent`;
      if (gatewayBudget?.take(more) === false) return gatewayBudget.describe();
    } else if (more < 0) {
      gatewayBudget?.give(-more);
    }
    this.budget.used += more;
    this.charged = want;
    this.budget.peak = Math.max(this.budget.peak, this.budget.used);
    return undefined;
  }

  private release(): void {
    this.budget.used -= this.charged;
    this.options.gatewayBudget?.give(this.charged);
    this.charged = 0;
    this.inFlight = 0;
  }

  /**
   * §8 item 41 and issue 13.7: a frame must be complete within frameTimeoutMs of the accept
   * or of the previous frame. Trickled bytes do not move the deadline, so a silent or
   * trickling connection cannot hold its slot; one waiting for our answer is kept. One timer
   * per connection: when it fires early (a frame completed since it was set) it is set again
   * for the time that is left.
   */
  private armDeadline(delayMs = this.options.frameTimeoutMs): void {
    this.deadline = setTimeout(() => {
      if (this.closing) return;
      const left = this.lastFrameAt + this.options.frameTimeoutMs - Date.now();
      if (left > 0) return this.armDeadline(left);
      if (this.pending.length > 0) return this.armDeadline();
      if (this.splitter.buffered > 0) this.warn(`no complete frame within ${this.options.frameTimeoutMs} ms (${this.splitter.buffered} bytes of a partial frame); closing`);
      else this.options.logger.debug({ connection: this.id }, `comodojo: connection ${this.id} idle for ${this.options.frameTimeoutMs} ms; closing`);
      this.destroy();
    }, delayMs);
    this.deadline.unref();
  }

  /** One frame's answer, made within this turn for the usual small JSON call; a promise when something has to wait. */
  private answerNow(line: string | LargeLine): Answer | Promise<Answer> {
    this.options.counters.requests.inc();
    if (typeof line !== 'string') return this.answerLarge(line);
    const answer = new Answer();
    let response: ResponseFrame | Promise<ResponseFrame>;
    try {
      const frame = decodeRequestNow(line);
      response = frame instanceof Promise ? frame.then((decoded) => this.options.engine.handle(decoded, answer)) : this.options.engine.handleNow(frame, answer);
    } catch (error) {
      return this.badFrame(describeError(error));
    }
    return response instanceof Promise ? this.answerLater(response, answer) : this.encode(response, answer);
  }

  /** Gives the frame's bytes back to the budget once its answer, made in a later turn, is ready. */
  private async settleLater(answer: Promise<Answer>, bytes: number): Promise<Answer> {
    try {
      return await answer;
    } finally {
      if (!this.closing) {
        this.inFlight -= bytes;
        this.charge();
      }
    }
  }

  private async answerLater(response: Promise<ResponseFrame>, answer: Answer): Promise<Answer> {
    let frame: ResponseFrame;
    try {
      frame = await response;
    } catch (error) {
      return this.badFrame(describeError(error));
    }
    return this.encode(frame, answer);
  }

  private encode(response: ResponseFrame, answer: Answer): Answer | Promise<Answer> {
    if (isLarge(response)) return this.encodeSliced(response, answer);
    answer.text = encodeResponse(response);
    return answer;
  }

  private async encodeSliced(response: ResponseFrame, answer: Answer): Promise<Answer> {
    answer.text = await encodeResponseSliced(response);
    return answer;
  }

  /** A line of OFFLOAD_BYTES or more: decoded in the worker, which may answer it there. */
  private async answerLarge(line: LargeLine): Promise<Answer> {
    const answer = new Answer();
    let response;
    try {
      const decoded = await this.options.decoder.decode(line);
      if (decoded.kind === 'badFrame') return this.badFrame(decoded.reason);
      if (decoded.kind === 'answered') {
        // Refused in the worker (no method would run): its log lines and counts are made here, as for any request.
        for (const reason of decoded.badRequests) this.options.engine.reportBadRequest(reason);
        return new Answer(decoded.text);
      }
      response = await this.options.engine.answer(decoded.request, answer);
    } catch (error) {
      if (error instanceof PatchbayError) return this.badFrame(describeError(error));
      // The decode worker died on this frame (out of memory, say): one reply, as for any internal failure.
      this.options.logger.error({ err: error, connection: this.id }, `comodojo: decoding a ${line.length}-byte frame failed: ${describeError(error)}`);
      return new Answer(encodeResponse({ status: false, message: 'Internal error' }));
    }
    return this.encode(response, answer);
  }

  /** §1.7: an input failure outside RPC semantics is status false with a short text. */
  private badFrame(reason: string): Answer {
    this.warn(`bad request frame: ${reason}`);
    return new Answer(encodeResponse({ status: false, message: `Bad request frame: ${reason}` }));
  }

  /**
   * Writes the answers at the head of the queue that are ready, in request order, within this
   * turn; at one still under way (or a large one, written a piece a turn) it stops, and goes on
   * once that one is out.
   */
  private flush(): void {
    if (this.flushing) return;
    while (this.pending.length > 0) {
      const head = this.pending[0] as Answer | Promise<Answer>;
      if (head instanceof Promise) {
        this.flushing = true;
        void head.then(this.onHeadReady);
        return;
      }
      void this.pending.shift(); // the head, a ready Answer: dropping it, not ignoring a promise
      if (this.socket.destroyed || this.refused) continue;
      if (typeof head.text !== 'string') {
        this.flushing = true;
        void this.writePieces(head.text, head.written());
        return;
      }
      this.socket.write(head.text, head.written());
      if (this.socket.writableLength > MAX_UNSENT_BYTES) this.socket.pause();
    }
    this.maybeResume();
  }

  /** The answer at the head of the queue is ready: it takes its promise's place, and the queue goes on. Bound once, not per frame. */
  private readonly onHeadReady = (answer: Answer): void => {
    this.flushing = false;
    // A refusal emptied the queue: nothing more is written.
    if (this.refused) return;
    this.pending[0] = answer;
    this.flush();
  };

  /** A large answer's pieces, a turn between them: copying 27 MB into the socket is a stall too. */
  private async writePieces(pieces: string[], done: (() => void) | undefined): Promise<void> {
    for (const [i, piece] of pieces.entries()) {
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      if (this.socket.destroyed || this.refused) break;
      this.socket.write(piece, 'latin1', i === pieces.length - 1 ? done : undefined);
    }
    if (this.socket.writableLength > MAX_UNSENT_BYTES) this.socket.pause();
    this.flushing = false;
    this.flush();
  }

  private maybeResume(): void {
    if (!this.closing && this.socket.isPaused() && this.pending.length <= MAX_PIPELINED && this.socket.writableLength < MAX_UNSENT_BYTES) this.socket.resume();
  }

  private async closeAfterPending(): Promise<void> {
    await Promise.allSettled(this.pending.filter((answer) => answer instanceof Promise));
    while (this.flushing || this.pending.length > 0) await new Promise((resolve) => setImmediate(resolve));
    this.socket.end();
  }
}
