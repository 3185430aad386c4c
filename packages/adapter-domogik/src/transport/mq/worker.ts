import type { Counter, Logger } from '@patchbay/core';
import { Dealer } from 'zeromq';
import { Command, commandFrames, decodeObject, describeFrames, EMPTY, encodeJson, MDPW, splitEnvelope, type JsonObject } from '../../protocol/wire.js';
import { SendQueue } from './sendQueue.js';

/** Worker timing (§5.6, §11.15, §11.20). */
export interface WorkerTiming {
  /** Heartbeat period (1000 ms). */
  heartbeatMs: number;
  /** Broker silence that means "lost" while idle (≥ 4 s). */
  idleSilenceMs: number;
  /** Broker silence that means "lost" while a request runs (≥ 15 s: the broker's heartbeat lock). */
  busySilenceMs: number;
  /** Pause before the new socket (Domogik's MQRep waits 1 s). */
  reconnectDelayMs: number;
}

export const defaultWorkerTiming: WorkerTiming = { heartbeatMs: 1000, idleSilenceMs: 4000, busySilenceMs: 15_000, reconnectDelayMs: 1000 };

/** What a request handler returns: the reply action and its JSON object. */
export interface WorkerReply {
  action: string;
  data: JsonObject;
}

/** A request as the handler sees it; `data` is undefined when the JSON frame was unusable. */
export interface WorkerRequest {
  action: string;
  data: JsonObject;
}

/** Options of {@link MdpWorker}. */
export interface MdpWorkerOptions {
  endpoint: string;
  /** `plugin-<name>.<host>` (§7.1). */
  service: string;
  logger: Logger;
  badMessages: Counter;
  reconnects?: Counter;
  handle(request: WorkerRequest): Promise<WorkerReply> | WorkerReply;
  timing?: Partial<WorkerTiming>;
  /** Told when the link to the broker comes up (a first frame heard on a socket) and goes down (a reconnect, the stop). */
  onLink?(up: boolean): void;
  /** Largest message part taken from the broker (ZMQ_MAXMSGSIZE): libzmq drops the connection on a bigger one. */
  maxMessageBytes: number;
}

interface Connection {
  socket: Dealer;
  sender: SendQueue;
  lastHeard: number;
  /** The broker has sent something on this socket: READY was heard. */
  heard: boolean;
}

/**
 * The gateway's MDP worker (§5.4–5.7, §11.14–22): a DEALER that sends READY once per socket,
 * heartbeats every second from a timer that never waits for a handler, recreates its socket
 * after broker silence or a DISCONNECT, and sends exactly one REPLY for every REQUEST
 * (unknown actions, bad JSON and handler errors included), on the socket it came from.
 */
export class MdpWorker {
  private connection: Connection | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private running = false;
  private busy = 0;
  /** "Waiting for the broker" was said for the current wait: said once, not at every attempt. */
  private waitingLogged = false;
  private readonly timing: WorkerTiming;
  /** For tests and health: how many sockets were opened, requests answered. */
  readonly stats = { connects: 0, requests: 0, replies: 0 };

  constructor(private readonly options: MdpWorkerOptions) {
    this.timing = { ...defaultWorkerTiming, ...options.timing };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
    this.heartbeatTimer = setInterval(() => this.tick(), this.timing.heartbeatMs);
  }

  /** Says DISCONNECT to the broker (so it forgets us at once) and closes. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.reconnectTimer);
    this.heartbeatTimer = undefined;
    this.reconnectTimer = undefined;
    const connection = this.connection;
    this.connection = undefined;
    if (connection?.heard) this.options.onLink?.(false);
    if (connection) {
      await Promise.race([connection.sender.send([EMPTY, MDPW, commandFrames.disconnect]).catch(() => undefined), new Promise((r) => setTimeout(r, 200))]);
      // Let the queued replies and the DISCONNECT leave before the socket goes (linger 0 would drop them).
      connection.socket.linger = 500;
      connection.socket.close();
    }
  }

  private connect(): void {
    const socket = new Dealer({ linger: 0, sendHighWaterMark: 100_000, maxMessageSize: this.options.maxMessageBytes });
    const connection: Connection = { socket, sender: new SendQueue(socket), lastHeard: Date.now(), heard: false };
    // A dropped connection (an oversized message, the broker gone) is a new socket and a READY at
    // once: libzmq would reconnect under a new routing id that the broker does not know as a worker.
    socket.events.on('disconnect', () => {
      if (this.connection === connection) this.reconnect(`the connection to the broker dropped (the broker went away, or sent a message part over ${this.options.maxMessageBytes} bytes, domogik.busMaxMessageBytes)`);
    });
    socket.connect(this.options.endpoint);
    this.connection = connection;
    this.stats.connects++;
    // §5.4, §11.14: READY exactly once per socket.
    this.send(connection, [EMPTY, MDPW, commandFrames.ready, this.options.service]);
    void this.receive(connection).catch((error: unknown) => {
      this.options.logger.error({ err: error }, `domogik worker: receive loop failed: ${(error as Error).message}`);
    });
  }

  private reconnect(why: string): void {
    const connection = this.connection;
    if (!connection || !this.running) return;
    this.connection = undefined;
    connection.socket.close();
    if (connection.heard) this.options.onLink?.(false);
    this.options.reconnects?.inc();
    if (connection.heard) {
      this.waitingLogged = false;
      this.options.logger.warn(`domogik worker: ${why}; reconnecting to the broker in ${this.timing.reconnectDelayMs} ms`);
    } else if (!this.waitingLogged) {
      // No broker was ever heard on this socket: the bus is not up yet (issue 14.2), which is no failure of ours.
      this.waitingLogged = true;
      this.options.logger.info(`domogik worker: no broker answers at ${this.options.endpoint} yet; waiting for it (trying again every ${this.timing.idleSilenceMs + this.timing.reconnectDelayMs} ms)`);
    } else {
      this.options.logger.debug(`domogik worker: still no broker at ${this.options.endpoint}`);
    }
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.running) this.connect();
    }, this.timing.reconnectDelayMs);
  }

  private tick(): void {
    const connection = this.connection;
    if (!connection) return;
    const limit = this.busy > 0 ? this.timing.busySilenceMs : this.timing.idleSilenceMs;
    if (Date.now() - connection.lastHeard >= limit) {
      this.reconnect(`no frame from the broker for ${Date.now() - connection.lastHeard} ms${this.busy > 0 ? ' while handling a request' : ''}`);
      return;
    }
    this.send(connection, [EMPTY, MDPW, commandFrames.heartbeat]);
  }

  private send(connection: Connection, frames: (Buffer | string)[]): void {
    connection.sender.send(frames).catch((error: unknown) => {
      if (this.connection === connection) this.options.logger.warn({ err: error }, `domogik worker: send failed: ${(error as Error).message}`);
    });
  }

  private malformed(frames: Buffer[], why: string): void {
    this.options.badMessages.inc();
    this.options.logger.warn({ frames: describeFrames(frames) }, `domogik worker: dropped a malformed message from the broker: ${why}`);
  }

  private async receive(connection: Connection): Promise<void> {
    try {
      for await (const frames of connection.socket) {
        connection.lastHeard = Date.now();
        if (!connection.heard && this.connection === connection) {
          connection.heard = true;
          this.options.onLink?.(true);
        }
        this.onFrames(connection, frames);
      }
    } catch (error) {
      if (this.connection === connection) this.reconnect(`receive failed: ${(error as Error).message}`);
    }
  }

  private onFrames(connection: Connection, frames: Buffer[]): void {
    // The broker's own DISCONNECT has no empty delimiter (§5.4, §9.1): accept both shapes.
    const start = frames[0]?.length === 0 ? 1 : 0;
    if (frames[start]?.toString('latin1') !== MDPW) return this.malformed(frames, 'bad header (expected MDPW01)');
    const command = frames[start + 1];
    if (command === undefined || command.length !== 1) return this.malformed(frames, 'no one-byte command');
    switch (command[0]) {
      case Command.HEARTBEAT:
        return;
      case Command.DISCONNECT:
        this.reconnect('the broker sent DISCONNECT');
        return;
      case Command.REQUEST:
        this.onRequest(connection, frames, start + 2);
        return;
      default:
        this.malformed(frames, `unexpected command 0x${command.toString('hex')} from the broker`);
    }
  }

  private onRequest(connection: Connection, frames: Buffer[], from: number): void {
    const split = splitEnvelope(frames, from);
    if (!split || split.envelope.length === 0) {
      // Without the envelope the reply cannot be addressed; nothing to answer.
      this.malformed(frames, 'REQUEST without a client envelope and empty delimiter');
      return;
    }
    this.stats.requests++;
    const { envelope, rest: body } = split;
    this.busy++;
    const answer = answerBody(body, {
      handle: this.options.handle,
      logger: this.options.logger,
      malformed: (why) => this.malformed(frames, why),
    });
    void answer
      .then((reply) => {
        this.busy--;
        if (this.connection !== connection) {
          // The broker that gave us this request has been left behind; a REPLY on a new socket would be ignored (§5.6).
          this.options.logger.warn({ action: reply.action }, `domogik worker: the connection was renewed while a request ran; its ${reply.action} is dropped`);
          return;
        }
        this.stats.replies++;
        this.send(connection, [EMPTY, MDPW, commandFrames.reply, ...envelope, EMPTY, ...encodeReply(reply, this.options.logger)]);
      })
      .catch((error: unknown) => {
        this.options.logger.error({ err: error }, `domogik worker: answering a request failed: ${(error as Error).message}`);
      });
  }
}

/**
 * The `[action, json]` frames of a reply. One that cannot be encoded (a handler bug) still
 * goes out, as `status: false`, so the request keeps its one reply (§5.7).
 */
export function encodeReply(reply: WorkerReply, logger: Logger): [string, string] {
  try {
    return [reply.action, encodeJson(reply.data)];
  } catch (error) {
    logger.error({ err: error, action: reply.action }, `domogik: the ${reply.action} reply could not be encoded: ${(error as Error).message}`);
    return [reply.action, encodeJson({ status: false, reason: `internal error: ${(error as Error).message}` })];
  }
}

/** The request handler and where its problems go, for {@link answerBody}. */
export interface AnswerOptions {
  handle(request: WorkerRequest): Promise<WorkerReply> | WorkerReply;
  logger: Logger;
  /** Called once for a malformed body (then answered with status false). */
  malformed(why: string): void;
}

/**
 * Turns a request body into exactly one reply (§5.7, §11.17, §11.18): action and JSON from
 * the last two frames (a leaked timeout token may precede them); a malformed body or a failing
 * handler still gets `<action>.result` with `status: false` and a reason. Never rejects.
 */
export async function answerBody(body: readonly Buffer[], options: AnswerOptions): Promise<WorkerReply> {
  const action = body.length >= 2 ? (body[body.length - 2] as Buffer).toString('latin1') : (body[0]?.toString('latin1') ?? '');
  let data: JsonObject;
  try {
    if (body.length < 2) throw new Error(`request has ${body.length} body frame(s), expected action and JSON`);
    data = decodeObject(body[body.length - 1], `request ${action}`);
  } catch (error) {
    const problem = (error as Error).message;
    options.malformed(problem);
    return { action: `${action || 'request'}.result`, data: { status: false, reason: problem } };
  }
  try {
    return await options.handle({ action, data });
  } catch (error) {
    options.logger.error({ err: error, action }, `domogik: handler for ${action} failed: ${(error as Error).message}`);
    return { action: `${action}.result`, data: { status: false, reason: `internal error: ${(error as Error).message}` } };
  }
}
