import type { CliContext } from '../cli/context.js';

/**
 * A host that starts Patchbay as its daemon (Jeedom today) is a mode: a command that reads
 * that host's own command line and runs the same pipeline and `runGateway` as `patchbay run`.
 */
export interface Mode {
  /** The command name (`patchbay jeedom`). */
  name: string;
  description: string;
  /** For `--help` only: the mode parses its own argv (`ctx.argv`). */
  options: readonly (readonly [flags: string, description: string, defaultValue?: string])[];
  run(ctx: CliContext): Promise<void>;
}
