import { z } from 'zod';

/** Options of the `example-jsonl` adapter. */
export const exampleConfig = z
  .object({
    /** The file events are appended to, one JSON object a line. */
    file: z.string().min(1),
    /** Write the current state first, as a host that (re)connects gets it. */
    snapshotOnStart: z.boolean().default(true),
    /**
     * A Unix socket path where a host sends commands, one JSON object a line
     * (`{"id","device","channel","value"}`); each gets its reply as one JSON line on the same
     * connection. Absent: the adapter only writes.
     */
    commandSocket: z.string().min(1).optional(),
  })
  .strict();

/** Validated options of the `example-jsonl` adapter. */
export type ExampleConfig = z.output<typeof exampleConfig>;
