import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * How to run the real `patchbay` binary from source in a child process: node with the
 * source export condition and tsx, so tests need no build. Append the CLI's arguments.
 */
export function patchbayCommand(): { command: string; args: string[] } {
  return {
    command: process.execPath,
    args: ['--conditions=@patchbay/source', '--import', 'tsx', join(repoRoot, 'apps/gateway/src/cli.ts')],
  };
}

/** A fresh temporary directory and a function that removes it. */
export function tempDir(prefix = 'patchbay-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
