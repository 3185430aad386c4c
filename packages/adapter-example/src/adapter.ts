import { open, type FileHandle } from 'node:fs/promises';
import { describeError, ErrorCodes, PatchbayError, quoteForLog, type Adapter, type HostContext, type JsonValue, type OutboundEvent } from '@patchbay/core';
import type { ExampleConfig } from './config.js';
import { LineServer } from './transport/lineServer.js';

/** One command line as the host writes it. */
interface CommandLine {
  id?: unknown;
  device?: unknown;
  channel?: unknown;
  value?: unknown;
}

/**
 * Makes the `example-jsonl` host. Nothing happens until `start()`, which opens the file (and
 * the command socket when asked); `stop()` closes both, so a restart starts from scratch.
 */
export function createExampleAdapter(config: ExampleConfig, ctx: HostContext): Adapter {
  let handle: FileHandle | undefined;
  let commands: LineServer | undefined;
  const written = ctx.counter('patchbay_example_lines_total', 'Lines the example adapter wrote');
  const writeLine = async (value: unknown) => {
    if (!handle) throw new PatchbayError(ErrorCodes.HOST_UNREACHABLE, 'the example adapter is not started', { context: { file: config.file } });
    await handle.appendFile(JSON.stringify(value) + '\n');
    written.inc();
  };
  // Every line gets exactly one answer: the device's reply, or why the line was refused.
  const onCommand = async (line: string): Promise<unknown> => {
    let message: CommandLine;
    try {
      message = JSON.parse(line) as CommandLine;
    } catch (error) {
      ctx.logger.warn(`example: a command line is not JSON (${describeError(error)}): ${quoteForLog(line, 80)}`);
      return { ok: false, error: 'not JSON' };
    }
    if (typeof message !== 'object' || message === null || typeof message.device !== 'string' || typeof message.channel !== 'string') {
      return { id: message?.id ?? null, ok: false, error: 'a command needs a string "device" and "channel"' };
    }
    // The value is passed through as sent: the core checks and coerces it against the description.
    const reply = await ctx.submit({ device: message.device, channel: message.channel, value: (message.value ?? null) as JsonValue });
    return { id: message.id ?? null, ok: reply.ok, value: reply.value, error: reply.error };
  };
  return {
    async start() {
      handle = await open(config.file, 'a', 0o600);
      if (config.snapshotOnStart) await writeLine({ kind: 'snapshot', ...ctx.snapshot() });
      if (config.commandSocket !== undefined) {
        commands = new LineServer(config.commandSocket, onCommand);
        await commands.listen();
      }
      ctx.connection({ connected: true, detail: config.file });
      ctx.logger.info({ file: config.file }, `writing events to ${config.file}`);
    },
    async stop() {
      await commands?.close();
      commands = undefined;
      await handle?.close();
      handle = undefined;
      ctx.connection({ connected: false, detail: 'stopped' });
    },
    // Rejecting (file system full, file gone) keeps the event in the outbox for a retry.
    deliver: (event: OutboundEvent) => writeLine(event),
  };
}
