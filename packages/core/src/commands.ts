import type { Driver } from './definitions.js';
import { describeError, ErrorCodes, type ErrorCode } from './errors.js';
import { coerceValue, type DeviceDescription } from './description.js';
import { CommandInputSchema, newEventId, type CommandEvent, type CommandInput, type ReplyEvent, type ReplyInit } from './events.js';
import { quoteForLog } from './logger.js';

/**
 * Turns what a host submitted into a command event, stamped with id, time and origin. Input
 * that does not validate still yields a command (so its failed reply can name it) and the
 * reason it is invalid.
 */
export function buildCommand(input: CommandInput, origin: string): { command: CommandEvent; invalid?: string } {
  const now = Date.now();
  const raw = (typeof input === 'object' && input !== null ? input : {}) as Partial<CommandInput>;
  // Validation and every later JSON.stringify recurse: a value nested thousands deep (a few KB
  // of brackets) would overflow the stack, so it is refused before anything walks it.
  if (jsonDepthExceeds(input, MAX_JSON_DEPTH)) {
    const command: CommandEvent = { kind: 'command', id: newEventId(now), time: now, origin, device: typeof raw.device === 'string' && raw.device ? raw.device : '?', ref: typeof raw.ref === 'string' ? raw.ref : undefined };
    return { command, invalid: `invalid command: nested deeper than ${MAX_JSON_DEPTH} levels` };
  }
  const parsed = CommandInputSchema.safeParse(input);
  const data = parsed.success ? parsed.data : undefined;
  const command: CommandEvent = {
    kind: 'command',
    id: newEventId(now),
    time: now,
    origin,
    device: data ? data.device : typeof raw.device === 'string' && raw.device ? raw.device : '?',
    channel: data?.channel,
    action: data?.action,
    value: data?.value,
    args: data?.args,
    ref: typeof raw.ref === 'string' ? raw.ref : undefined,
    meta: raw.meta,
  };
  if (parsed.success) return { command };
  return { command, invalid: `invalid command: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'command'}: ${i.message}`).join('; ')}` };
}

/** How deep a command's JSON may nest (objects and arrays); far beyond any device's needs. */
export const MAX_JSON_DEPTH = 64;

/**
 * True when `value` nests objects/arrays deeper than `max`. Iterative, so it is safe on input
 * that would overflow the stack of anything recursive (JSON.stringify, schema validation).
 */
export function jsonDepthExceeds(value: unknown, max: number = MAX_JSON_DEPTH): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (depth > max) return true;
    const children = Array.isArray(current) ? current : Object.values(current as Record<string, unknown>);
    for (const child of children) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

/** Asks the driver, turning a throw into a failed answer and silence into a timeout. */
export async function askDriver(driver: Driver, command: CommandEvent, timeoutMs: number): Promise<ReplyInit> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = driver.send(command);
    // A driver that answers at once (the simulator, a cached value) needs no timer.
    if (!isPromiseLike(answer)) return answer;
    return await Promise.race([
      answer,
      new Promise<ReplyInit>((resolve) => {
        timer = setTimeout(
          () => resolve({ ok: false, code: ErrorCodes.COMMAND_TIMEOUT, error: `device ${command.device} did not answer ${describeCommand(command)} within ${timeoutMs} ms` }),
          timeoutMs,
        );
      }),
    ]);
  } catch (error) {
    return { ok: false, code: ErrorCodes.COMMAND_FAILED, error: `device ${command.device} failed ${describeCommand(command)}: ${describeError(error)}` };
  } finally {
    clearTimeout(timer);
  }
}

/** The reply event for a command, from the driver's answer; it goes to the command's origin only. */
export function replyTo(command: CommandEvent, answer: ReplyInit): ReplyEvent {
  const now = Date.now();
  if (answer.ok && typeof answer.value === 'object' && answer.value !== null && jsonDepthExceeds(answer.value)) {
    // Passed on, it would overflow the stack of whatever serialises it next (journal, wire).
    return failedReply(command, ErrorCodes.COMMAND_FAILED, `device ${command.device} answered ${describeCommand(command)} with a value nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  return {
    kind: 'reply',
    id: newEventId(now),
    time: now,
    origin: command.device,
    commandId: command.id,
    device: command.device,
    to: command.origin,
    ok: answer.ok === true,
    value: answer.ok ? answer.value : undefined,
    error: answer.ok ? undefined : String(answer.error ?? 'failed'),
    code: answer.ok ? undefined : answer.code,
    ref: command.ref,
    meta: command.meta,
  };
}

/** A failed reply with a core error code. */
export function failedReply(command: CommandEvent, code: ErrorCode, message: string): ReplyEvent {
  return replyTo(command, { ok: false, code, error: message });
}

/** `command <id> (relay=true)`, for messages. */
export function describeCommand(command: CommandEvent): string {
  return command.channel !== undefined ? `command ${command.id} (${command.channel}=${JSON.stringify(command.value)})` : `command ${command.id} (action ${command.action})`;
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * The one place commands are checked against what the device is: a read-only channel is
 * refused, a value is coerced to the channel's kind in place (the driver gets `true`, never
 * `"1"`), and anything that does not fit is refused naming what would. Undescribed devices and
 * channels pass untouched.
 */
export function checkCommand(command: CommandEvent, description: DeviceDescription | undefined): { code: ErrorCode; message: string } | undefined {
  if (description === undefined) return undefined;
  if (command.channel !== undefined) {
    const channel = description.channels[command.channel];
    if (channel === undefined) return undefined;
    if (!channel.writable) {
      const writable = Object.keys(description.channels).filter((c) => description.channels[c]?.writable);
      return { code: ErrorCodes.READ_ONLY, message: `channel "${command.channel}" of device "${command.device}" is read-only (writable: ${writable.join(', ') || 'none'})` };
    }
    const coerced = coerceValue(channel, command.value);
    if (!coerced.ok) return { code: ErrorCodes.VALUE_INVALID, message: `channel "${command.channel}" of device "${command.device}" ${coerced.error}` };
    command.value = coerced.value;
    return undefined;
  }
  if (command.action !== undefined && description.actions !== undefined && description.actions[command.action] === undefined) {
    return { code: ErrorCodes.COMMAND_INVALID, message: `device "${command.device}" has no action ${quoteForLog(command.action, 40)} (known: ${Object.keys(description.actions).join(', ') || 'none'})` };
  }
  return undefined;
}
