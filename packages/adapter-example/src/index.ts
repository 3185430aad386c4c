/**
 * patchbay-adapter-example: how a third party writes a host adapter. It depends only on
 * `@patchbay/core`'s public entry and default-exports a definition; a config names it by
 * package name (`adapter: patchbay-adapter-example`) and the gateway loads it. It appends
 * every event it is handed to a file as one JSON line, and reads commands from nowhere:
 * the smallest adapter that still honours the contract (start/stop, deliver, snapshot).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { defineAdapter, ErrorCodes, PatchbayError, type OutboundEvent } from '@patchbay/core';
import { z } from 'zod';

/** Options: where to write. */
export const exampleConfig = z
  .object({
    /** The file events are appended to, one JSON object a line. */
    file: z.string().min(1),
    /** Write the current state first, as a host that (re)connects gets it. */
    snapshotOnStart: z.boolean().default(true),
  })
  .strict();

const exampleAdapter = defineAdapter({
  type: 'example-jsonl',
  description: 'Appends every event to a file as JSON lines (an example third-party adapter)',
  config: exampleConfig,
  create(config, ctx) {
    let handle: FileHandle | undefined;
    const written = ctx.counter('patchbay_example_lines_total', 'Lines the example adapter wrote');
    const writeLine = async (value: unknown) => {
      if (!handle) throw new PatchbayError(ErrorCodes.HOST_UNREACHABLE, 'the example adapter is not started');
      await handle.appendFile(JSON.stringify(value) + '\n');
      written.inc();
    };
    return {
      async start() {
        handle = await open(config.file, 'a', 0o600);
        if (config.snapshotOnStart) await writeLine({ kind: 'snapshot', ...ctx.snapshot() });
        ctx.logger.info({ file: config.file }, `writing events to ${config.file}`);
      },
      async stop() {
        await handle?.close();
        handle = undefined;
      },
      // Rejecting (file system full, file gone) keeps the event in the outbox for a retry.
      deliver: (event: OutboundEvent) => writeLine(event),
    };
  },
});

export default exampleAdapter;
