import { askDriver, buildCommand, checkCommand, failedReply, replyTo } from './commands.js';
import type { Driver, SubmitOptions } from './definitions.js';
import { describeError, ErrorCodes, type ErrorCode } from './errors.js';
import { newEventId, type CommandEvent, type CommandInput, type ReplyEvent } from './events.js';
import type { EventRouter } from './eventRouter.js';
import type { GatewayCounters } from './gatewayCounters.js';
import type { Journal } from './journal.js';
import type { Logger } from './logger.js';
import { latencyBuckets, type Histogram, type MetricsSink } from './metrics.js';
import type { DeviceRuntime, HostRuntime } from './runtime.js';

/** What the command path reaches of the gateway. */
export interface CommandPathDeps {
  devices: ReadonlyMap<string, DeviceRuntime>;
  journal: Journal | undefined;
  logger: Logger;
  metrics: MetricsSink;
  router: EventRouter;
  counters: GatewayCounters;
  /** How long a device has to answer when the host set no timeout of its own. */
  commandTimeoutMs: number;
  /** True once the gateway stops: commands are refused from then on. */
  isStopping(): boolean;
}

/** The codes a command is refused with before (or instead of) reaching its device: each host's refusal counters start at zero for each. */
const REFUSAL_CODES: readonly ErrorCode[] = [
  ErrorCodes.UNKNOWN_DEVICE,
  ErrorCodes.NOT_ROUTED,
  ErrorCodes.DEVICE_UNAVAILABLE,
  ErrorCodes.DEVICE_PAUSED,
  ErrorCodes.COMMAND_INVALID,
  ErrorCodes.OUTBOX_FULL,
  ErrorCodes.GATEWAY_STOPPING,
  ErrorCodes.READ_ONLY,
  ErrorCodes.VALUE_INVALID,
  ErrorCodes.JOURNAL_UNAVAILABLE,
];

const noHistogram: Histogram = { observe: () => undefined };

/**
 * A host's command on its way to a device and back: checked and refused (with a counted code)
 * or journaled and handed to the driver under a timeout, then closed by exactly one reply,
 * which goes to the asking host's outbox only while that outbox has room for it.
 */
export class CommandPath {
  /** Commands not yet answered, so a stopping gateway can wait for their replies. */
  private readonly pending = new Set<Promise<unknown>>();
  /** Each host's command round trip, made once with the host. */
  private readonly commandSeconds = new Map<string, Histogram>();

  constructor(private readonly deps: CommandPathDeps) {}

  /** Makes a new host's metrics: its refusal counters at zero, so a rate over them is defined before the first refusal. */
  addHost(host: HostRuntime): void {
    for (const code of REFUSAL_CODES) this.deps.counters.refusal(host, code);
    const labels = { host: host.id, adapter: host.type };
    this.commandSeconds.set(host.id, this.deps.metrics.histogram?.({ name: 'patchbay_command_duration_seconds', help: 'Command round trip as the asking host sees it: from its submit to the reply (refusals included)', labels, buckets: latencyBuckets }) ?? noHistogram);
  }

  /** Resolves once every command submitted so far has its reply. */
  settled(): Promise<unknown> {
    return Promise.allSettled([...this.pending]);
  }

  submit(host: HostRuntime, input: CommandInput, options: SubmitOptions = {}): Promise<ReplyEvent> {
    host.lastSeen = Date.now();
    const pending = this.run(host, input, options);
    this.pending.add(pending);
    const settled = (): void => void this.pending.delete(pending);
    pending.then(settled, settled);
    return pending;
  }

  /** Never rejects: whatever goes wrong becomes the command's one failed reply. */
  private async run(host: HostRuntime, input: CommandInput, options: SubmitOptions): Promise<ReplyEvent> {
    const { devices, journal, logger } = this.deps;
    let built: ReturnType<typeof buildCommand>;
    try {
      built = buildCommand(input, host.id);
    } catch (error) {
      const now = Date.now();
      built = { command: { kind: 'command', id: newEventId(now), time: now, origin: host.id, device: '?' }, invalid: `invalid command: ${describeError(error)}` };
    }
    const { command, invalid } = built;
    let reserved = false;
    const started = performance.now();
    const finish = (reply: ReplyEvent, refused = false): ReplyEvent => {
      (this.commandSeconds.get(host.id) ?? noHistogram).observe((performance.now() - started) / 1000);
      if (refused && reply.code !== undefined) this.deps.counters.refusal(host, reply.code as ErrorCode).inc();
      if (!reply.ok) {
        const device = devices.get(command.device);
        if (device) device.commandsFailed++;
      }
      if (reserved) {
        reserved = false;
        host.outbox.releaseReply();
      }
      if (options.deliverReply) {
        // Only a reply with room goes to the outbox: queueing the refusals of a host that
        // is not taking its replies would defeat the bound (the caller still gets each one).
        if (reserved || host.outbox.hasRoomForReply) this.deps.router.route(reply, [host]);
        else {
          this.noteOutboxFull(host);
          try {
            options.onUnqueued?.(reply);
          } catch (error) {
            logger.error({ err: error, host: host.id, commandId: command.id }, `host ${host.id}'s onUnqueued for command ${command.id} threw: ${describeError(error)}`);
          }
        }
      }
      return reply;
    };
    try {
      if (invalid !== undefined) return finish(failedReply(command, ErrorCodes.COMMAND_INVALID, invalid), true);
      const device = devices.get(command.device);
      const refusal = this.refusal(host, device, command) ?? checkCommand(command, (device as DeviceRuntime).description);
      if (refusal) return finish(failedReply(command, refusal.code, refusal.message), true);
      if (options.deliverReply) {
        // Room for the reply is taken now, so concurrent commands cannot all pass the check.
        if (!host.outbox.reserveReply()) {
          return finish(failedReply(command, ErrorCodes.OUTBOX_FULL, `host "${host.id}" has too many undelivered replies; retry when it has caught up`), true);
        }
        reserved = true;
        if (host.refusingForRoom) {
          host.refusingForRoom = false;
          logger.info({ host: host.id }, `host ${host.id} has room for replies again; accepting its commands`);
        }
        if (journal) {
          // The reply must survive a crash: the command is on disk before anyone is told it was accepted.
          const written = journal.health().status === 'ok' && (await new Promise<boolean>((resolve) => journal.command(command, resolve)));
          if (!written) return finish(failedReply(command, ErrorCodes.JOURNAL_UNAVAILABLE, `the gateway cannot journal commands (${journal.health().reason ?? 'write failed'}); refused so that none is lost; retry later`), true);
        }
      }
      try {
        options.onAccepted?.();
      } catch (error) {
        logger.error({ err: error, host: host.id, commandId: command.id }, `host ${host.id}'s onAccepted for command ${command.id} threw: ${describeError(error)}`);
      }
      const answer = await askDriver((device as DeviceRuntime).driver as Driver, command, options.timeoutMs ?? this.deps.commandTimeoutMs);
      return finish(replyTo(command, answer));
    } catch (error) {
      logger.error({ err: error, host: host.id, commandId: command.id }, `command ${command.id} from ${host.id} failed inside the gateway: ${describeError(error)}`);
      return finish(failedReply(command, ErrorCodes.INTERNAL, `the gateway failed to handle the command: ${describeError(error)}`));
    }
  }

  /** A host's replies have filled its outbox: say so once per episode. */
  private noteOutboxFull(host: HostRuntime): void {
    if (host.refusingForRoom) return;
    host.refusingForRoom = true;
    this.deps.logger.warn(
      { host: host.id, queued: host.outbox.queued },
      `host ${host.id} has too many undelivered replies; refusing its commands (${ErrorCodes.OUTBOX_FULL}) until it catches up`,
    );
  }

  private refusal(host: HostRuntime, device: DeviceRuntime | undefined, command: CommandEvent): { code: ErrorCode; message: string } | undefined {
    if (this.deps.isStopping()) return { code: ErrorCodes.GATEWAY_STOPPING, message: 'the gateway is stopping' };
    if (!device) {
      return { code: ErrorCodes.UNKNOWN_DEVICE, message: `unknown device "${command.device}" (known: ${host.devices.map((d) => d.id).join(', ') || 'none'})` };
    }
    if (!host.deviceIds.has(device.id)) return { code: ErrorCodes.NOT_ROUTED, message: `device "${device.id}" is not routed to host "${host.id}"` };
    if (device.paused) return { code: ErrorCodes.DEVICE_PAUSED, message: `device "${device.id}" is paused` };
    if (!device.driver) {
      const { status, reason } = device.supervisor;
      return { code: ErrorCodes.DEVICE_UNAVAILABLE, message: `device "${device.id}" is not running (${status}${reason ? `: ${reason}` : ''})` };
    }
    return undefined;
  }
}
