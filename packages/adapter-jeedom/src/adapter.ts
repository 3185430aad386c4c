import { Backoff, describeError, ErrorCodes, PatchbayError, quoteForLog, type Adapter, type Availability, type CommandInput, type Counter, type DeviceDescription, type HostContext, type JsonValue, type OutboundEvent, type ReplyEvent } from '@patchbay/core';
import { CallbackClient } from './transport/callbackClient.js';
import { ChangeSender, type Change } from './transport/changeSender.js';
import { bindError, CommandSocket, type JeedomMessage } from './transport/commandSocket.js';
import type { JeedomConfig } from './config.js';
import { jeedomDevice } from './protocol/jeedomCmds.js';

/** The change an outbound event becomes in the upward payload (README: "What goes up"). */
export function eventChange(event: OutboundEvent): Change | undefined {
  switch (event.kind) {
    case 'state':
      return [['devices', event.device, event.channel], event.value];
    case 'reply': {
      // A command without a Jeedom id is answered under the core's command id. A failure carries
      // its code, so the plugin can tell a restart (PB210) from a refusal (issue 14.8).
      const body: JsonValue = event.ok ? { ok: true, value: event.value ?? null } : { ok: false, error: event.error ?? 'failed', ...(event.code === undefined ? {} : { code: event.code }) };
      return [['replies', event.ref ?? event.commandId], body];
    }
    case 'status':
      return [['status', event.endpoint], event.status];
    case 'description':
      return descriptionChange(event.device, event.description);
    case 'availability':
      return availabilityChange(event);
    case 'momentary':
      // A list, appended to: two presses in one cycle are two events, in order (never coalesced).
      return [['events'], { device: event.device, channel: event.channel, value: event.value ?? null, time: event.time }, 'append'];
  }
}

/** A device's rows for the plugin: whole, so an older description's cmds never linger in a newer one's. */
function descriptionChange(device: string, description: DeviceDescription): Change {
  return [['descriptions', device], jeedomDevice(description) as unknown as JsonValue, 'replace'];
}

function availabilityChange({ device, availability, lastSeen, reason }: { device: string; availability: Availability; lastSeen: number | null; reason?: string | undefined }): Change {
  const entry: Record<string, JsonValue> = { state: availability, lastSeen };
  if (reason !== undefined) entry.reason = reason;
  return [['availability', device], entry, 'replace'];
}

/** Makes the `jeedom` host; nothing runs until `start()` (the definition's `create`). */
export function createJeedomAdapter(config: JeedomConfig, ctx: HostContext): JeedomAdapter {
  return new JeedomAdapter(config, ctx);
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
  private counters: { rejected: Counter; evicted: Counter; commands: Counter; failures: Counter } | undefined;
  /** Refusals the core could not queue, by reply id, waiting for the callback (see {@link sendOutOfBand}). */
  private readonly refusals = new Map<string, Change>();
  private flushingRefusals = false;
  private droppedRefusals = 0;
  private flushAgain = false;
  /** The last connection detail told to the core. */
  private connection: string | undefined;

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
      evicted: ctx.counter('patchbay_jeedom_evicted_connections_total', 'Silent command-socket connections closed at maxConnections to admit a new one'),
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
      ctx.connection({ connected: false, detail: 'no callback: commands only, nothing goes up' });
    }
    this.socket = new CommandSocket({
      host: config.socketHost,
      port: config.socketPort,
      apikey: config.apikey,
      maxMessageBytes: config.maxMessageBytes,
      messageTimeoutMs: config.messageTimeoutMs,
      maxConnections: config.maxConnections,
      maxBufferedBytes: config.maxBufferedBytes,
      gatewayBudget: ctx.inputBudget,
      logger: ctx.logger,
      rejected: this.counters.rejected,
      evicted: this.counters.evicted,
      onMessage: (message, done) => this.onMessage(message, done),
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
    try {
      await sender.addMany(changes);
    } catch (error) {
      // A stop is not the callback going away.
      if (this.sender !== undefined) this.connected(false, `callback unreachable: ${describeError(error)}`);
      throw error;
    }
    this.connected(true);
    // The callback answers again: what was refused meanwhile goes now.
    this.flushRefusals();
  }

  /** Tells the core whether the callback answers (issue 14.2), on a change only: this runs per POST. */
  private connected(connected: boolean, problem?: string): void {
    const detail = connected ? 'callback answers' : (problem ?? 'callback unreachable');
    if (this.connection === detail) return;
    this.connection = detail;
    this.ctx.connection({ connected, detail });
  }

  private async verify(): Promise<void> {
    const client = this.client as CallbackClient;
    try {
      await client.test();
    } catch (error) {
      this.verifying = undefined;
      this.report(`callback test failed: ${describeError(error)}`);
      this.connected(false, `callback unreachable: ${describeError(error)}`);
      throw error;
    }
    this.verified = true;
    this.verifying = undefined;
    this.connected(true);
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

  /** `done()` closes the peer's connection: at once, or for a command once it is accepted (journaled). */
  private onMessage(message: JeedomMessage, done: () => void): void {
    const { ctx } = this;
    const action = message.action ?? message.cmd;
    if (action !== 'command') {
      done();
      if (action === 'refresh') this.refresh();
      else ctx.logger.warn(`Unknown action ${quoteForLog(action)} from socket; ignored (known: command, refresh)`);
      return;
    }
    this.counters?.commands.inc();
    const { device, channel, deviceAction, value, id } = message;
    const named = deviceAction === undefined ? channel : deviceAction;
    if (typeof device !== 'string' || typeof named !== 'string') {
      // Still submitted: the core answers with a failed reply that goes up under the id.
      this.counters?.rejected.inc();
      ctx.logger.error(
        `Invalid command from socket: "device" and ${deviceAction === undefined ? '"channel"' : '"deviceAction"'} must be strings (got ${typeof device} and ${typeof named})`,
      );
    }
    const ref = id === undefined || id === null ? undefined : String(id);
    const input: CommandInput =
      deviceAction === undefined
        ? { device: device as string, channel: channel as string, value: value as JsonValue | undefined, ref }
        : // Both named: the core refuses the command ("exactly one of channel or action") with its reply.
          { device: device as string, action: deviceAction as string, channel: channel as string | undefined, ref };
    // The peer's EOF waits for the journal (onAccepted); a refusal closes it when it is decided.
    // submit is documented never to reject; should it, a command lost is one ERROR, not a crash.
    ctx
      .submit(input, { deliverReply: true, onAccepted: done, onUnqueued: this.onUnqueued })
      .then(done, (error: unknown) => {
        done();
        ctx.logger.error({ err: error }, `Send command to demon error: ${describeError(error)}`);
      });
  }

  /**
   * A refusal the core could not queue (this host's replies fill its outbox): kept here, in
   * memory, and posted straight to the callback, so the asker still gets its one reply (issue
   * 13.3). While the callback is down they wait, and go with the next post that gets through.
   * Not journaled: the command was never carried out, so a crash loses only the refusal.
   */
  private readonly onUnqueued = (reply: ReplyEvent): void => this.sendOutOfBand(reply);

  private sendOutOfBand(reply: ReplyEvent): void {
    if (this.sender === undefined) {
      this.ctx.logger.warn(`reply to ${reply.ref ?? reply.commandId} (${reply.code ?? 'failed'}) not sent: no callback configured`);
      return;
    }
    const change = eventChange(reply) as Change;
    const key = reply.ref ?? reply.commandId;
    if (this.refusals.size >= MAX_HELD_REFUSALS && !this.refusals.has(key)) {
      const oldest = this.refusals.keys().next().value as string;
      this.refusals.delete(oldest);
      // Once per episode: a flood of refusals must not become a flood of lines.
      if (this.droppedRefusals++ === 0) {
        this.ctx.logger.error(`more than ${MAX_HELD_REFUSALS} refusals wait for the callback: the oldest are dropped (their commands were not carried out), starting with ${quoteForLog(oldest)}`);
      }
    }
    this.refusals.set(key, change);
    this.flushRefusals();
  }

  /** Post every held refusal in one body; those posted are forgotten, the others wait for the next try. */
  private flushRefusals(): void {
    const sender = this.sender;
    if (sender === undefined || this.refusals.size === 0) return;
    if (this.flushingRefusals) {
      // A post got through while this one is under way (it may have started while the callback
      // was down and be about to fail): go again once it settles, so nothing waits for more traffic.
      this.flushAgain = true;
      return;
    }
    this.flushingRefusals = true;
    this.flushAgain = false;
    const batch = [...this.refusals];
    sender.postNow(batch.map(([, change]) => change)).then(
      () => {
        this.flushingRefusals = false;
        for (const [key, change] of batch) if (this.refusals.get(key) === change) this.refusals.delete(key);
        if (this.droppedRefusals > 0) {
          this.ctx.logger.warn(`refusals reach the callback again; ${this.droppedRefusals} were dropped while it was away`);
          this.droppedRefusals = 0;
        }
        this.flushRefusals();
      },
      (error: unknown) => {
        this.flushingRefusals = false;
        this.ctx.logger.warn(`${batch.length} refusals not posted yet (${describeError(error)}); they go with the next post that gets through`);
        if (this.flushAgain) this.flushRefusals();
      },
    );
  }

  /** `{"action":"refresh"}`: post the current value of every channel (and device status) again. */
  private refresh(): void {
    const sender = this.sender;
    if (sender === undefined) {
      this.ctx.logger.info('refresh asked, but no callback is configured; nothing to send');
      return;
    }
    const changes: Change[] = [];
    const snapshot = new Map(this.ctx.snapshot().devices.map((d) => [d.device, d]));
    for (const info of this.ctx.devices()) {
      // Descriptions first: a device the plugin does not know yet gets its eqLogic before its values.
      if (info.description !== undefined) changes.push(descriptionChange(info.id, info.description));
      changes.push(availabilityChange({ device: info.id, availability: info.availability, lastSeen: info.lastSeen, reason: info.availabilityReason }));
      changes.push([['status', info.id], info.status]);
      for (const channel of snapshot.get(info.id)?.channels ?? []) changes.push([['devices', info.id, channel.channel], channel.value]);
    }
    if (changes.length === 0) return;
    sender.addMany(changes).catch((error: unknown) => this.ctx.logger.warn(`refresh not delivered: ${describeError(error)}`));
  }
}

/** Refusals held for a callback that is down, at most (each is a few hundred bytes). */
const MAX_HELD_REFUSALS = 10_000;

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

