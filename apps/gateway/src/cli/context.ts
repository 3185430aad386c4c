import type { EmbeddedDefaults } from '@patchbay/core';
import type { Registry } from '../config/registry.js';

/**
 * What the CLI entry hands every command: the process's environment, arguments and working
 * directory as values (the entry is the one place that reads `process.env`), and the registry.
 */
export interface CliContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The raw arguments after the command name (modes parse their own). */
  readonly argv: readonly string[];
  readonly cwd: string;
  /** stdin is a terminal (two Ctrl-Cs force the exit). */
  readonly interactive: boolean;
  readonly registry: Registry;
  /** Embedded options for built-ins whose definition has none yet. */
  readonly embeddedFallback: Readonly<Record<string, EmbeddedDefaults>>;
  exit(code: number): void;
}

/** How the HTTP port is moved, for "address in use" messages. */
export const HTTP_PORT_HINT = '--port, PATCHBAY_HTTP_PORT or gateway.http.port';
