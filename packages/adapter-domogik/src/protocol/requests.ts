import { quoteForLog, type HostContext, type JsonValue } from '@patchbay/core';
import type { SensorMap } from './mapping.js';
import type { WorkerReply, WorkerRequest } from '../transport/mq/worker.js';
import type { JsonObject } from './wire.js';

/** What the request handlers need from the plugin. */
export interface RequestContext {
  ctx: HostContext;
  identity: { name: string; host: string };
  commandTimeoutMs: number;
  map(): SensorMap;
  /** Re-publishes the current value of every mapped channel; resolves with how many. */
  publishSnapshot(): Promise<number>;
  /** Begins the stop sequence of §7.3 after the reply has been queued. */
  requestStop(): void;
}

const helpers: Record<string, string> = {
  refresh: 'Publish the current value of every mapped sensor now (for a subscriber that joined late).',
};

/**
 * Answers the requests Domogik sends to `plugin-<name>.<host>` (§7.3). Every path returns a
 * reply: the worker sends exactly one per request (§5.7), unknown actions included.
 */
export function createRequestHandler(rc: RequestContext): (request: WorkerRequest) => Promise<WorkerReply> | WorkerReply {
  return (request) => {
    switch (request.action) {
      case 'client.cmd':
        return clientCommand(rc, request.data);
      case 'plugin.stop.do':
        return stop(rc, request.data);
      case 'device.new.get':
        // §7.6: Patchbay's devices come from its own config; nothing is ever "detected".
        return { action: 'device.new.result', data: { devices: [], status: true, reason: '' } };
      case 'helper.list.get':
        return { action: 'helper.list.result', data: { actions: Object.keys(helpers), status: true, reason: '' } };
      case 'helper.help.get': {
        const command = String(request.data.command ?? '');
        return { action: 'helper.help.result', data: { help: helpers[command] ?? `unknown helper ${quoteForLog(command)} (known: ${Object.keys(helpers).join(', ')})` } };
      }
      case 'helper.do':
        return helperDo(rc, request.data);
      default:
        return { action: `${request.action}.result`, data: { status: false, reason: 'unsupported action' } };
    }
  };
}

async function helperDo(rc: RequestContext, data: JsonObject): Promise<WorkerReply> {
  const command = String(data.command ?? '');
  const parameters = (typeof data.parameters === 'object' && data.parameters !== null ? data.parameters : {}) as JsonObject;
  if (command !== 'refresh') {
    // The request's own command and parameters are echoed as Domogik's helpers do; the message is cut.
    return { action: 'helper.do.result', data: { command, parameters, result: `unknown helper ${quoteForLog(command)}`, status: false, reason: 'unknown helper' } };
  }
  const count = await rc.publishSnapshot();
  return { action: 'helper.do.result', data: { command, parameters, result: `published ${count} sensor value(s)`, status: true, reason: '' } };
}

function stop(rc: RequestContext, data: JsonObject): WorkerReply {
  const { name, host } = rc.identity;
  // The Python base class ignores a stop for another plugin and so blocks its service; reply false instead (§7.3).
  if ((data.name !== undefined && data.name !== name) || (data.host !== undefined && data.host !== host) || (data.type !== undefined && data.type !== 'plugin')) {
    return { action: 'plugin.stop.result', data: { status: false, reason: `this is plugin-${name}.${host}, not ${quoteForLog(data.type)}-${quoteForLog(data.name)}.${quoteForLog(data.host)}`, name, host } };
  }
  rc.requestStop();
  return { action: 'plugin.stop.result', data: { status: true, reason: '', name, host } };
}

function idOf(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) ? n : undefined;
}

/** Longest `reason` sent back: a device's message may quote a value of any size. */
const MAX_REASON = 500;

/** A reason cut to {@link MAX_REASON} characters, with its full length said. */
function cutReason(reason: string): string {
  return reason.length <= MAX_REASON ? reason : `${reason.slice(0, MAX_REASON)}… (${reason.length} characters)`;
}

async function clientCommand(rc: RequestContext, data: JsonObject): Promise<WorkerReply> {
  const fail = (reason: string): WorkerReply => {
    // The request itself is not logged: its values may be megabytes (quoteForLog cuts what is quoted).
    rc.ctx.logger.warn({ commandId: quoteForLog(data.command_id), deviceId: quoteForLog(data.device_id) }, `domogik: client.cmd refused: ${reason}`);
    return { action: 'client.cmd.result', data: { status: false, reason } };
  };
  const commandId = idOf(data.command_id);
  const deviceId = idOf(data.device_id);
  if (data.command_id === undefined) return fail('client.cmd has no command_id (an integer naming the Domogik command)');
  if (commandId === undefined) return fail(`client.cmd needs an integer command_id, got ${quoteForLog(data.command_id)}`);
  const map = rc.map();
  if (deviceId !== undefined && map.checksDevices && !map.hasDomogikDevice(deviceId)) return fail(`unknown device_id ${deviceId}`);
  if (deviceId === undefined && data.device_id !== undefined) return fail(`client.cmd device_id must be an integer, got ${quoteForLog(data.device_id)}`);
  const target = map.command(commandId);
  if (!target) return fail(`unknown command_id ${commandId}`);
  if (deviceId !== undefined && target.domogikDevice !== undefined && target.domogikDevice !== deviceId) {
    return fail(`command_id ${commandId} belongs to device ${target.domogikDevice}, not device_id ${deviceId}`);
  }
  // §7.3: one key per command parameter; Patchbay channels take one value, `value` first.
  const params = Object.keys(data).filter((k) => k !== 'command_id' && k !== 'device_id');
  const key = params.includes('value') ? 'value' : params[0];
  // The value goes to the core as Domogik sent it ("1" for a DT_Switch): the core converts it
  // to the channel's kind, the one place every host's values are converted (issue 15.4).
  const value = (key === undefined ? null : data[key]) as JsonValue;
  const meta = { domogik: { commandId, deviceId } };
  // A command named after one of the device's actions (a DT_Trigger "refresh") runs that action.
  const description = rc.ctx.description(target.device);
  const action = description?.actions?.[target.channel] !== undefined && description.channels[target.channel] === undefined;
  const reply = await rc.ctx.submit(
    action ? { device: target.device, action: target.channel, ref: String(commandId), meta } : { device: target.device, channel: target.channel, value, ref: String(commandId), meta },
    { timeoutMs: rc.commandTimeoutMs },
  );
  if (!reply.ok) {
    // The core's code leads the reason (the same "PB211_READ_ONLY: ..." every host shows) and rides as `code`, an extra key.
    const reason = cutReason(reply.code ? `${reply.code}: ${reply.error ?? 'refused'}` : (reply.error ?? 'the device refused the command'));
    return { action: 'client.cmd.result', data: reply.code ? { status: false, reason, code: reply.code } : { status: false, reason } };
  }
  // `value` is an extra key (the device's answer); Domogik reads only status and reason.
  const result: JsonObject = { status: true, reason: null };
  if (reply.value !== undefined) result.value = reply.value;
  return { action: 'client.cmd.result', data: result };
}
