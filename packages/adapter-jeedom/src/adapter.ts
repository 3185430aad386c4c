import { Backoff, describeError, ErrorCodes, PatchbayError, quoteForLog, type Adapter, type Counter, type HostContext, type JsonValue, type OutboundEvent } from '@patchbay/core';
import { CallbackClient } from './callbackClient.js';
import { ChangeSender, type Change } from './changeSender.js';
import { bindError, CommandSocket, type JeedomMessage } from './commandSocket.js';
import type { JeedomConfig } from './config.js';

/** The change an outbound event becomes in the upward payload (architecture: "How each host sees a device"). */
export function eventChange(event: OutboundEvent): Change | undefined {
  switch (event.kind) {
    case 'state':
      return [['devices', event.device, event.channel], event.value];
    case 'reply': {
      // A command without a Jeedom id is answered under the core's command id.
      const body: JsonValue = event.ok ? { ok: true, value: event.value ?? null } : { ok: false, error: event.error ?? 'failed' };
      return [['replies', event.ref ?? event.commandId], body];
    }
    case 'status':
      return [['status', event.endpoint], event.status];
    default:
      // Descriptions, availability and momentary events are not carried to Jeedom yet.
      return undefined;
  }
}

/**
 * The `jeedom` host adapter: Patchbay as a Jeedom plugin daemon. Commands arrive on the TCP
 * command socket (protocols/jeedom.md §3); state, replies and status go up to the callback
 * script (§4). Events are acknowledged to the outbox only once a POST carrying them got 200.
 */
export class JeedomAdapter implements Adapter {
  private socket: CommandSocket | undefined;
  private client: CallbackClient | undefined;
  private sender: ChangeSender | undefined;
  /** The start-up GET test passed (or is not wanted). */
  private verified = false;
  /** The start-up test while it runs. */
  private verifying: Promise<void> | undefined;
  private listening = false;
  private bindTimer: NodeJS.Timeout | undefined;
  private counters: { rejected: Counter; commands: Counter; failures: Counter } | undefined;

  /**
   * Present only when there is a callback: without one the outbox keeps its synchronous
   * single-event fast path and `deliver` acknowledges at once.
   */
  readonly deliverBatch?: (events: readonly OutboundEvent[]) => Promise<void>;

  constructor(
    private readonly config: JeedomConfig,
    private readonly ctx: HostContext,
  ) {
    if (config.callback !== undefined) this.deliverBatch = (events) => this.send(events);
  }

  /** The command socket's bound port, once listening. */
  get port(): number | undefined {
    return this.socket?.port;
  }

  async start(): Promise<void> {
    const { config, ctx } = this;
    this.counters = {
      rejected: ctx.counter('patchbay_jeedom_rejected_messages_total', 'Downward messages refused (apikey, framing, JSON, size, stall)'),
      commands: ctx.counter('patchbay_jeedom_commands_total', 'Commands received on the Jeedom command socket'),
      failures: ctx.counter('patchbay_jeedom_callback_failures_total', 'Failed requests to the Jeedom callback'),
    };
    if (config.callback !== undefined) {
      const client = new CallbackClient({ callback: config.callback, apikey: config.apikey, logger: ctx.logger, failures: this.counters.failures, signal: ctx.signal, ...config.http });
      this.client = client;
      this.sender = new ChangeSender({ post: (body) => client.post(body), cycleMs: config.cycle * 1000 });
      this.verified = !config.callbackTest;
      // §4.2 test before the bind (§10 item 12). As one host among several, a failure must not
      // stop the gateway: report it, and let the outbox's retries repeat the test (§10 intro).
      // A callback that accepts but never answers must not hold up the gateway's start either:
      // wait at most START_TEST_WAIT_MS, deliveries wait for the rest.
      if (config.callbackTest) {
        const verifying = this.verify().catch(() => undefined);
        this.verifying = verifying;
        await waitAtMost(verifying, START_TEST_WAIT_MS);
      }
    } else {
      ctx.logger.info('no callback configured: commands are served, nothing is sent up to Jeedom');
    }
    this.socket = new CommandSocket({
      host: config.socketHost,
      port: config.socketPort,
      apikey: config.apikey,
      maxMessageBytes: config.maxMessageBytes,
      idleTimeoutMs: config.idleTimeoutMs,
      logger: ctx.logger,
      rejected: this.counters.rejected,
      onMessage: (message) => this.onMessage(message),
    });
    await this.bind(new Backoff());
  }

  async stop(): Promise<void> {
    if (this.bindTimer) clearTimeout(this.bindTimer);
    this.bindTimer = undefined;
    this.listening = false;
    this.sender?.stop();
    this.sender = undefined;
    this.client?.close();
    this.client = undefined;
    await this.socket?.close();
    this.socket = undefined;
  }

  deliver(event: OutboundEvent): Promise<void> | void {
    // No callback: the up-direction is disabled, the event is acknowledged as delivered.
    if (this.config.callback === undefined) return;
    return this.send([event]);
  }

  /** Resolves once a POST carrying every one of `events` got 200; rejects to keep them queued. */
  private async send(events: readonly OutboundEvent[]): Promise<void> {
    const sender = this.sender;
    if (sender === undefined) throw stoppedError();
    if (!this.verified && this.verifying) await this.verifying;
    if (!this.verified) await this.verify();
    const changes: Change[] = [];
    for (const event of events) {
      const change = eventChange(event);
      if (change !== undefined) changes.push(change);
    }
    await sender.addMany(changes);
  }

  private async verify(): Promise<void> {
    const client = this.client as CallbackClient;
    try {
      await client.test();
    } catch (error) {
      this.verifying = undefined;
      this.report(`callback test failed: ${describeError(error)}`);
      throw error;
    }
    this.verified = true;
    this.verifying = undefined;
    this.report();
  }

  /** §3.1 bind; on failure (a busy port) log it and retry with back-off rather than stop the gateway. */
  private async bind(backoff: Backoff): Promise<void> {
    const socket = this.socket;
    if (socket === undefined) return;
    try {
      await socket.listen();
    } catch (error) {
      const fatal = bindError(error, { host: this.config.socketHost, port: this.config.socketPort });
      const delay = backoff.next();
      this.ctx.logger.error({ code: fatal.code, retryInMs: delay }, `${fatal.message}; retrying in ${delay} ms`);
      this.report(fatal.message);
      this.bindTimer = setTimeout(() => {
        this.bindTimer = undefined;
        this.bind(backoff).catch((error: unknown) => this.ctx.logger.error({ err: error }, `command socket bind retry failed: ${describeError(error)}`));
      }, delay);
      return;
    }
    this.listening = true;
    this.ctx.logger.info(`Listening on: [${this.config.socketHost}:${socket.port ?? this.config.socketPort}]`);
    this.report();
  }

  /** Our own status: alive once both directions work, else unknown with the reason. */
  private report(problem?: string): void {
    if (problem !== undefined) this.ctx.status('unknown', problem);
    else if (this.listening && (this.verified || this.client === undefined)) this.ctx.status('alive');
  }

  private onMessage(message: JeedomMessage): void {
    const { ctx } = this;
    const action = message.action ?? message.cmd;
    if (action === 'command') {
      this.counters?.commands.inc();
      const { device, channel, value, id } = message;
      if (typeof device !== 'string' || typeof channel !== 'string') {
        // Still submitted: the core answers with a failed reply that goes up under the id.
        this.counters?.rejected.inc();
        ctx.logger.error(`Invalid command from socket: "device" and "channel" must be strings (got ${typeof device} and ${typeof channel})`);
      }
      const ref = id === undefined || id === null ? undefined : String(id);
      // submit is documented never to reject; should it, a command lost is one ERROR, not a crash.
      ctx
        .submit({ device: device as string, channel: channel as string, value: value as JsonValue | undefined, ref }, { deliverReply: true })
        .catch((error: unknown) => ctx.logger.error({ err: error }, `Send command to demon error: ${describeError(error)}`));
      return;
    }
    if (action === 'refresh') {
      this.refresh();
      return;
    }
    ctx.logger.warn(`Unknown action ${quoteForLog(action)} from socket; ignored (known: command, refresh)`);
  }

  /** `{"action":"refresh"}`: post the current value of every channel (and device status) again. */
  private refresh(): void {
    const sender = this.sender;
    if (sender === undefined) {
      this.ctx.logger.info('refresh asked, but no callback is configured; nothing to send');
      return;
    }
    const changes: Change[] = [];
    for (const device of this.ctx.snapshot().devices) {
      changes.push([['status', device.device], device.status]);
      for (const channel of device.channels) changes.push([['devices', device.device, channel.channel], channel.value]);
    }
    if (changes.length === 0) return;
    sender.addMany(changes).catch((error: unknown) => this.ctx.logger.warn(`refresh not delivered: ${describeError(error)}`));
  }
}

/** How long `start()` waits for the start-up GET before binding anyway. */
const START_TEST_WAIT_MS = 2000;

/** Resolves when `promise` settles or after `ms`, whichever is first. */
async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function stoppedError(): PatchbayError {
  return new PatchbayError(ErrorCodes.HOST_UNREACHABLE, 'the Jeedom adapter is not running; the events stay queued');
}

