import { describeError, ErrorCodes, toPatchbayError, Waitress, type CommandEvent, type DeviceDescriptionInput, type Driver, type DriverContext, type ReplyInit } from '@patchbay/core';
import { BadInputReporter, createCounters } from './badInput.js';
import { createCodec, type WireReply } from './codec.js';
import type { SerialConfig } from './config.js';
import { createFramer, type BadFrameKind, type FrameSink, type Framer } from './framing.js';
import { Link } from './link.js';
import { serialTransport, type Transport } from './transport.js';

/**
 * The `serial` driver instance: a {@link Link} keeps the port open, a framer and a codec per
 * connection turn bytes into states and replies, and a {@link Waitress} matches replies to
 * commands (by id for `jsonl`, first-in first-out for `kv`).
 * `transport` replaces the serial port (tests and other byte streams); by default the port
 * named by `config.path` is opened.
 */
export function createSerialDriver(config: SerialConfig, ctx: DriverContext, transport?: Transport): Driver {
  const path = config.path;
  const codec = createCodec(config.codec);
  const counters = createCounters((name, help) => ctx.counter(name, help));
  const badInput = new BadInputReporter({ logger: ctx.logger, counters, path });
  const waitress = new Waitress<string, WireReply>();
  let framer: Framer | undefined;
  let seq = 0;
  let down = false;

  /** The config's description of the device, over what the device itself last said. */
  const describe = (fromDevice: Record<string, unknown> | undefined): void => {
    const channels = { ...(fromDevice?.channels as Record<string, unknown> | undefined), ...config.channels };
    const own = { name: ctx.id, ...fromDevice, ...config.device, channels };
    if (config.channels === undefined && fromDevice === undefined) return;
    ctx.describe(own as DeviceDescriptionInput);
  };

  const sink: FrameSink = {
    frame(payload: Buffer): void {
      const decoded = codec.decode(payload);
      if (decoded.type === 'state') {
        counters.frames.inc();
        ctx.emit(decoded.channel, decoded.value);
        return;
      }
      if (decoded.type === 'description') {
        const description = decoded.description;
        if (typeof description !== 'object' || description === null || Array.isArray(description)) {
          badInput.report('invalid', `"describe" must be an object, got ${JSON.stringify(description).slice(0, 40)}`);
          return;
        }
        counters.frames.inc();
        // The core validates it: a description that fails its schema is refused there, logged.
        describe(description);
        return;
      }
      if (decoded.type === 'bad') {
        badInput.report(decoded.kind, decoded.detail);
        return;
      }
      // A reply: by id, or to the oldest command still waiting (kv has no ids).
      const key = codec.correlation === 'id' ? decoded.id : waitress.first();
      if (key !== undefined && waitress.resolve(key, decoded)) {
        counters.frames.inc();
        return;
      }
      badInput.report(
        'unmatched',
        codec.correlation === 'id' ? `reply to unknown command id ${JSON.stringify(decoded.id)} (never sent, or already timed out)` : 'reply while no command is waiting (late or unsolicited)',
      );
    },
    bad: (kind: BadFrameKind, detail: string) => badInput.report(kind, detail),
  };

  const link = new Link({
    transport: transport ?? serialTransport(config),
    backoff: config.reconnect,
    maxQueuedWrites: config.maxQueuedWrites,
    label: path,
    logger: ctx.logger,
    handlers: {
      up: ({ reconnect }) => {
        framer = createFramer(config.framing, { maxFrameBytes: config.maxFrameBytes, sink });
        down = false;
        if (reconnect) {
          counters.reconnects.inc();
          ctx.logger.info({ path }, `serial port ${path} is open again`);
        }
        ctx.status('alive');
      },
      data: (chunk) => {
        // This runs inside serialport's 'data' event: a throw here would be uncaught and take
        // the whole gateway down, so a bug in decoding costs this chunk, not the process.
        try {
          framer?.push(chunk);
        } catch (error) {
          ctx.logger.error({ err: error, path }, `serial ${path}: failed to process ${chunk.length} bytes: ${describeError(error)}`);
        }
      },
      down: (reason) => {
        // The frame in progress and every waiting command die with the connection.
        framer?.end();
        framer = undefined;
        waitress.rejectAll(toPatchbayError(new Error(reason), { code: ErrorCodes.DEVICE_UNAVAILABLE }));
        // One status per outage, not one per retry (STYLE.md: logged once per transition).
        if (!down) {
          down = true;
          ctx.status('unknown', `${reason}; reconnecting`);
        }
      },
    },
  });

  const describeCommand = (command: CommandEvent): string =>
    command.channel !== undefined ? `command ${command.id} (${command.channel}=${JSON.stringify(command.value ?? null)})` : `command ${command.id} (action ${command.action})`;

  return {
    start: () => {
      down = false;
      describe(undefined);
      return link.start();
    },
    stop: async () => {
      await link.stop();
      framer?.end();
      framer = undefined;
      waitress.rejectAll(toPatchbayError(new Error(`the serial driver for ${path} stopped`), { code: ErrorCodes.DEVICE_UNAVAILABLE }));
    },
    async send(command): Promise<ReplyInit> {
      const what = `${describeCommand(command)} on ${path}`;
      if (!link.isOpen || framer === undefined) {
        return { ok: false, code: ErrorCodes.DEVICE_UNAVAILABLE, error: `${what} not sent: serial port ${path} is down (${link.downReason})` };
      }
      const id = `c${(++seq).toString(36)}`;
      let frame: Buffer;
      try {
        frame = framer.encode(codec.encode({ id, channel: command.channel, action: command.action, value: command.value, args: command.args }));
      } catch (error) {
        const err = toPatchbayError(error, { code: ErrorCodes.COMMAND_INVALID });
        return { ok: false, code: err.code, error: `${what} not sent: ${err.message}` };
      }
      // Wait before writing: a fast device may answer before write() returns.
      const answer = waitress.wait(id, { timeoutMs: config.commandTimeoutMs, description: what });
      try {
        link.write(frame);
      } catch (error) {
        waitress.reject(id, toPatchbayError(error));
      }
      try {
        const reply = await answer;
        if (reply.ok) return reply.value === undefined ? { ok: true } : { ok: true, value: reply.value };
        return { ok: false, code: ErrorCodes.COMMAND_FAILED, error: `the device refused ${what}: ${reply.error}` };
      } catch (error) {
        const err = toPatchbayError(error);
        // Timeouts already name the command; other failures get it prefixed.
        return { ok: false, code: err.code, error: err.code === ErrorCodes.COMMAND_TIMEOUT ? err.message : `${what} failed: ${describeError(err)}` };
      }
    },
  };
}
