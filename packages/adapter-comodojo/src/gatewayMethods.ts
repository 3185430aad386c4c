import { ErrorCodes, quoteForLog, type DeviceInfo, type HostContext, type JsonValue, type ReplyEvent } from '@patchbay/core';
import { RpcError, RpcErrors, sig, type LongNameRefusal, type MethodRegistry } from './protocol/registry.js';

/**
 * The daemon built-ins (protocols/comodojo.md §4.5), with Patchbay's devices as the workers,
 * then Patchbay's own methods (§4.6). Application errors use codes 4001-4099, outside the
 * reserved ranges, and pass through unchanged in both protocols.
 */

/** Application error codes Patchbay answers with (documented for PHP callers). */
export const ComodojoErrorCodes = {
  /** The device does not exist, or is not routed to this host. */
  UNKNOWN_DEVICE: 4001,
  /** The device did not answer within the command timeout. */
  COMMAND_TIMEOUT: 4002,
  /** The device's driver is not running. */
  DEVICE_UNAVAILABLE: 4003,
  /** The device is paused (`worker.pause`). */
  DEVICE_PAUSED: 4004,
  /** The command was malformed (e.g. an empty channel name). */
  INVALID_COMMAND: 4005,
  /** The device refused or failed the command. */
  COMMAND_FAILED: 4006,
  /** Too many undelivered replies; retry later. */
  BUSY: 4007,
  /** The gateway is stopping. */
  GATEWAY_STOPPING: 4008,
  /** `daemon.shutdown` is disabled by configuration (`allowShutdown: false`). */
  SHUTDOWN_DISABLED: 4010,
  /** The channel is read-only (the core's PB211_READ_ONLY); the device was not asked. */
  READ_ONLY: 4011,
  /** The value does not fit the channel's kind or range (the core's PB212_VALUE_INVALID); the device was not asked. */
  VALUE_INVALID: 4012,
} as const;

const unknownDevice: LongNameRefusal = { code: ComodojoErrorCodes.UNKNOWN_DEVICE, message: 'unknown device', quote: true };
// §4.5: an unknown worker is -32603 with the reference's fixed text, however long its name.
const unknownWorker: LongNameRefusal = { code: RpcErrors.internal.code, message: RpcErrors.internal.message, quote: false };

/**
 * Which parameters name a device, per method. A name past core's MAX_NAME_LENGTH is no device:
 * the registry refuses it before the method runs, in the decode worker as on the gateway thread,
 * with the error an unknown name gets (issue 13.8: a 20 MB name never reaches the gateway thread).
 */
export const deviceNameParams: Readonly<Record<string, Readonly<Record<string, LongNameRefusal>>>> = {
  'worker.status': { worker: unknownWorker },
  'worker.pause': { worker: unknownWorker },
  'worker.resume': { worker: unknownWorker },
  'device.describe': { device: unknownDevice },
  'device.state': { device: unknownDevice },
};

const fromCoreCode: Record<string, number> = {
  [ErrorCodes.UNKNOWN_DEVICE]: ComodojoErrorCodes.UNKNOWN_DEVICE,
  [ErrorCodes.NOT_ROUTED]: ComodojoErrorCodes.UNKNOWN_DEVICE,
  [ErrorCodes.COMMAND_TIMEOUT]: ComodojoErrorCodes.COMMAND_TIMEOUT,
  [ErrorCodes.DEVICE_UNAVAILABLE]: ComodojoErrorCodes.DEVICE_UNAVAILABLE,
  [ErrorCodes.DEVICE_PAUSED]: ComodojoErrorCodes.DEVICE_PAUSED,
  [ErrorCodes.COMMAND_INVALID]: ComodojoErrorCodes.INVALID_COMMAND,
  [ErrorCodes.COMMAND_FAILED]: ComodojoErrorCodes.COMMAND_FAILED,
  [ErrorCodes.OUTBOX_FULL]: ComodojoErrorCodes.BUSY,
  [ErrorCodes.GATEWAY_STOPPING]: ComodojoErrorCodes.GATEWAY_STOPPING,
  [ErrorCodes.GATEWAY_RESTARTED]: ComodojoErrorCodes.GATEWAY_STOPPING,
  [ErrorCodes.READ_ONLY]: ComodojoErrorCodes.READ_ONLY,
  [ErrorCodes.VALUE_INVALID]: ComodojoErrorCodes.VALUE_INVALID,
};

/**
 * A failed reply as an application error: the mapped numeric code, and the core's message led
 * by the core's own code (`PB211_READ_ONLY: ...`), the one every host shows for the same refusal.
 */
export function replyError(reply: ReplyEvent): RpcError {
  const message = reply.error ?? 'command failed';
  return new RpcError((reply.code && fromCoreCode[reply.code]) || ComodojoErrorCodes.COMMAND_FAILED, cut(reply.code ? `${reply.code}: ${message}` : message));
}

/** Longest error text sent back: a core message may quote a peer's value (a device name of megabytes). */
const MAX_ERROR_CHARS = 500;

function cut(text: string): string {
  return text.length <= MAX_ERROR_CHARS ? text : `${text.slice(0, MAX_ERROR_CHARS)}… (${text.length} characters)`;
}

/** Worker status codes of §4.5: 0 SPINUP, 1 LOOPING, 2 PAUSED, 3 SPINDOWN. Integers, not the reference's strings (§7 item 8). */
function workerStatus(device: DeviceInfo): number {
  if (device.paused) return 2;
  if (device.status === 'alive') return 1;
  if (device.status === 'starting') return 0;
  return 3;
}

/** Epoch ms to Unix seconds (an XML-RPC int stays within 32 bits), null when never seen. */
const seconds = (ms: number | null): number | null => (ms === null ? null : Math.floor(ms / 1000));

/**
 * A device as `device.describe` answers: its description with absent fields left out (XML-RPC
 * has no "undefined"), or, for a device whose driver described nothing, its known channels as
 * kind `json` with writability unknown (no `writable` key), and `described: false`.
 */
function describeDevice(device: DeviceInfo, channels: readonly string[]): Record<string, unknown> {
  const description = device.description;
  if (!description) {
    return { device: device.id, described: false, name: device.id, availability: device.availability, channels: Object.fromEntries(channels.map((c) => [c, { kind: 'json' }])), actions: {} };
  }
  const defined = (o: object) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  return defined({
    device: device.id,
    described: true,
    name: description.name,
    manufacturer: description.manufacturer,
    model: description.model,
    firmware: description.firmware,
    availability: device.availability,
    channels: Object.fromEntries(Object.entries(description.channels).map(([id, channel]) => [id, defined(channel)])),
    actions: Object.fromEntries(Object.entries(description.actions ?? {}).map(([id, action]) => [id, defined(action)])),
  });
}

/** Options of {@link addGatewayMethods}. */
export interface GatewayMethodsOptions {
  ctx: HostContext;
  allowShutdown: boolean;
  /** Stops the gateway; called once the `daemon.shutdown` response is written. */
  shutdown(): void;
}

/** Registers `daemon.shutdown`, `worker.*` (in the order of §4.5), then `device.*` and `gateway.health`. */
export function addGatewayMethods(registry: MethodRegistry, options: GatewayMethodsOptions): void {
  const { ctx } = options;
  const find = (name: unknown): DeviceInfo => {
    const device = ctx.devices().find((d) => d.id === name);
    // §4.5: an unknown worker name is -32603 (what the reference raises).
    if (!device) throw RpcError.of('internal');
    return device;
  };
  const setPaused = (paused: boolean) => (args: Record<string, unknown>) => {
    if (args['worker'] === undefined) return Object.fromEntries(ctx.devices().map((d) => [d.id, ctx.setPaused(d.id, paused)]));
    return ctx.setPaused(find(args['worker']).id, paused);
  };
  registry
    .add({
      name: 'daemon.shutdown',
      description: 'Stop daemon closing workers',
      signatures: [sig('int')],
      handler: (_args, call) => {
        if (!options.allowShutdown) throw new RpcError(ComodojoErrorCodes.SHUTDOWN_DISABLED, 'daemon.shutdown is disabled on this gateway (allowShutdown: false)');
        ctx.logger.warn('comodojo: daemon.shutdown called; stopping the gateway');
        // §8 item 37: the caller gets 0 before the listener closes.
        call.afterResponse(() => options.shutdown());
        return 0;
      },
    })
    .add({
      name: 'worker.list',
      description: 'List installed workers',
      signatures: [sig('array')],
      handler: () => ctx.devices().map((d) => ({ name: d.id, looptime: 1, forever: true })),
    })
    .add({
      name: 'worker.status',
      names: deviceNameParams['worker.status'],
      description: 'Get info about installed worker(s)',
      signatures: [sig('array'), sig('int', ['worker', 'string'])],
      handler: (args) => {
        if (args['worker'] === undefined) return Object.fromEntries(ctx.devices().map((d) => [d.id, workerStatus(d)]));
        return workerStatus(find(args['worker']));
      },
    })
    .add({
      name: 'worker.pause',
      names: deviceNameParams['worker.pause'],
      description: 'Pause installed worker(s)',
      signatures: [sig('array'), sig('boolean', ['worker', 'string'])],
      handler: setPaused(true),
    })
    .add({
      name: 'worker.resume',
      names: deviceNameParams['worker.resume'],
      description: 'Resume installed worker(s)',
      signatures: [sig('array'), sig('boolean', ['worker', 'string'])],
      handler: setPaused(false),
    })
    .add({
      name: 'device.list',
      description:
        'List the devices routed to this host: id, name, driver, status, availability (online, offline or stale), paused, lastSeen (Unix seconds or null), described, channels and writable (channel names). device.describe tells what each channel is',
      signatures: [sig('array')],
      handler: () =>
        ctx.devices().map((d) => {
          const channels = d.description ? Object.keys(d.description.channels) : [];
          return {
            id: d.id,
            name: d.description?.name ?? d.id,
            driver: d.driver,
            status: d.status,
            availability: d.availability,
            paused: d.paused,
            lastSeen: seconds(d.lastSeen),
            described: d.description !== undefined,
            channels,
            writable: channels.filter((c) => d.description?.channels[c]?.writable),
          };
        }),
    })
    .add({
      name: 'device.describe',
      names: deviceNameParams['device.describe'],
      description:
        'What one device is: {device, described, name, manufacturer, model, firmware, availability, channels: {channel: {kind, name, unit, min, max, step, options, writable, class, stateClass}}, actions: {action: {name}}}; absent fields are left out. kind is number, boolean, enum, text, json or event. An undescribed device lists its channels as kind json, writability unknown. Error 4001 for an unknown device',
      signatures: [sig('struct', ['device', 'string'])],
      handler: (args) => {
        const device = ctx.devices().find((d) => d.id === args['device']);
        if (!device) throw new RpcError(ComodojoErrorCodes.UNKNOWN_DEVICE, `unknown device ${quoteForLog(args['device'])}`);
        const channels = ctx.snapshot().devices.find((d) => d.device === device.id)?.channels.map((c) => c.channel) ?? [];
        return describeDevice(device, channels);
      },
    })
    .add({
      name: 'device.state',
      names: deviceNameParams['device.state'],
      description: 'Current state of one device: {device, status, available, lastSeen, channels: {channel: value}}. Error 4001 for an unknown device',
      signatures: [sig('struct', ['device', 'string'])],
      handler: (args) => {
        const state = ctx.snapshot().devices.find((d) => d.device === args['device']);
        if (!state) throw new RpcError(ComodojoErrorCodes.UNKNOWN_DEVICE, `unknown device ${quoteForLog(args['device'])}`);
        const channels: Record<string, JsonValue> = {};
        for (const c of state.channels) channels[c.channel] = c.value;
        return { device: state.device, status: state.status, available: state.available, lastSeen: seconds(state.lastSeen), channels };
      },
    })
    .add({
      name: 'device.command',
      description:
        "Send a value to a device's channel and return the device's reply value. The value is converted to the channel's kind (a boolean takes true/false, 1/0, \"1\"/\"0\", \"on\"/\"off\"; a number takes numeric strings). Errors: 4001 unknown device, 4002 timeout, 4003 unavailable, 4004 paused, 4006 refused by the device, 4011 read-only channel (PB211_READ_ONLY), 4012 value of the wrong kind or out of range (PB212_VALUE_INVALID); the message starts with the gateway's code",
      signatures: [sig('undefined', ['device', 'string'], ['channel', 'string'], ['value', 'undefined'])],
      handler: async (args) => {
        const reply = await ctx.submit({ device: args['device'] as string, channel: args['channel'] as string, value: args['value'] as JsonValue });
        if (!reply.ok) throw replyError(reply);
        return reply.value ?? null;
      },
    })
    .add({
      name: 'gateway.health',
      description: "The gateway's health, as /healthz reports it: status, name, uptimeMs, devices, hosts",
      signatures: [sig('struct')],
      handler: () => JSON.parse(JSON.stringify(ctx.health())) as unknown,
    });
}
