import { ErrorCodes, PatchbayError, Waitress, type Counter, type Logger } from '@patchbay/core';
import { Request } from 'zeromq';
import { decodeObject, describeFrames, encodeJson, FrameError, MDPC, type JsonObject } from '../../protocol/wire.js';

/** Options of {@link MdpClient}. */
export interface MdpClientOptions {
  /** The broker, `tcp://<ip>:<req_rep_port>`. */
  endpoint: string;
  /** Send the timeout frame after the service (§5.2); false for pre-2016 domogik-mq (§10). */
  timeoutFrame: boolean;
  logger: Logger;
  badMessages: Counter;
  /** Largest reply part taken (ZMQ_MAXMSGSIZE): libzmq drops a bigger one and the request times out. */
  maxMessageBytes: number;
}

/** A decoded reply: action and JSON object (§5.3). */
export interface MdpReply {
  action: string;
  data: JsonObject;
}

/**
 * The gateway's MDP client role (§5.2, §5.3, §11.9–13): one fresh REQ socket per request,
 * closed after its reply or its timeout and never reused (a timed-out REQ socket is stuck in
 * its state machine). Correlation and the timeout go through the core's Waitress.
 */
export class MdpClient {
  private readonly waitress = new Waitress<number, Buffer[]>();
  private readonly sockets = new Set<Request>();
  private seq = 0;
  private closed = false;

  constructor(private readonly options: MdpClientOptions) {}

  /** Sockets currently open (one per request in flight). */
  get openSockets(): number {
    return this.sockets.size;
  }

  /** Sends `action` with `data` to `service`; rejects with COMMAND_TIMEOUT or HOST_UNREACHABLE. */
  async request(input: { service: string; action: string; data: JsonObject; timeoutMs: number }): Promise<MdpReply> {
    const frames = await this.exchange({ service: input.service, body: [input.action, encodeJson(input.data)], timeoutMs: input.timeoutMs, description: `${input.action} to ${input.service}` });
    if (frames.length !== 4) return this.reject(frames, `${input.action} to ${input.service}: a reply has 4 frames`);
    const action = (frames[2] as Buffer).toString('latin1');
    try {
      return { action, data: decodeObject(frames[3], `reply to ${input.action}`) };
    } catch (error) {
      return this.reject(frames, (error as Error).message);
    }
  }

  /** Asks the broker's `mmi.service`/`mmi.services` (§5.8); resolves with the single body frame (`200`, `404`...). */
  async mmi(input: { service: 'mmi.service' | 'mmi.services'; body: string; timeoutMs: number }): Promise<string> {
    const frames = await this.exchange({ service: input.service, body: [input.body], timeoutMs: input.timeoutMs, description: `${input.service} ${input.body}` });
    if (frames.length !== 3) return this.reject(frames, `${input.service}: an mmi reply has 3 frames`);
    return (frames[2] as Buffer).toString('latin1');
  }

  /** Closes every open request socket; their requests fail. */
  close(): void {
    this.closed = true;
    this.waitress.rejectAll(new PatchbayError(ErrorCodes.HOST_UNREACHABLE, 'the Domogik client is closing'));
    for (const socket of this.sockets) socket.close();
    this.sockets.clear();
  }

  /** Opens the client again after {@link close} (the adapter restarts). */
  reopen(): void {
    this.closed = false;
  }

  private reject(frames: Buffer[], why: string): never {
    this.options.badMessages.inc();
    this.options.logger.warn({ frames: describeFrames(frames) }, `domogik client: rejected a malformed reply: ${why}`);
    throw new PatchbayError(ErrorCodes.HOST_UNREACHABLE, `malformed reply from Domogik: ${why}`, { cause: new FrameError(why) });
  }

  private async exchange({ service, body, timeoutMs, description }: { service: string; body: string[]; timeoutMs: number; description: string }): Promise<Buffer[]> {
    if (this.closed) throw new PatchbayError(ErrorCodes.HOST_UNREACHABLE, 'the Domogik client is closed');
    const id = ++this.seq;
    const socket = new Request({ linger: 0, maxMessageSize: this.options.maxMessageBytes });
    this.sockets.add(socket);
    const waiting = this.waitress.wait(id, { timeoutMs, description });
    waiting.catch(() => undefined); // handled below; avoids an unhandled rejection if send throws first
    try {
      // A reply part over the limit makes libzmq drop the connection, and a REQ socket never
      // sends again: fail the request now, saying why, rather than at its timeout.
      socket.events.on('disconnect', () => {
        const error = new PatchbayError(ErrorCodes.HOST_UNREACHABLE, `the connection to the Domogik broker dropped during ${description} (it went away, or sent a reply part over ${this.options.maxMessageBytes} bytes, domogik.busMaxMessageBytes)`, { context: { service } });
        this.waitress.reject(id, error);
      });
      socket.connect(this.options.endpoint);
      const frames: string[] = [MDPC, service];
      // §5.2: a finite positive number of seconds, always (never "None"/"nan").
      if (this.options.timeoutFrame) frames.push(String(Math.max(0.001, timeoutMs / 1000)));
      frames.push(...body);
      await socket.send(frames);
      socket.receive().then(
        (reply) => this.waitress.resolve(id, reply),
        () => undefined, // closed after a timeout: the waitress already failed the request
      );
      const reply = await waiting;
      // §11.10: accept only MDPC01 + the service we asked.
      if (reply[0]?.toString('latin1') !== MDPC || reply[1]?.toString('latin1') !== service) {
        this.reject(reply, `expected ${MDPC} and service "${service}" in frames 0-1`);
      }
      return reply;
    } catch (error) {
      this.waitress.reject(id, error as Error);
      throw error;
    } finally {
      // §11.11: this socket is never used again, whatever happened.
      socket.close();
      this.sockets.delete(socket);
    }
  }
}
