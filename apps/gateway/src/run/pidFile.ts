import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { ErrorCodes, PatchbayError } from '@patchbay/core';

/** True when a process with this pid exists (signal 0 probes without signalling). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Writes `<pid>\n` to `path`. Refuses when the file names another live process (a second
 * gateway on the same pid file); a stale file from a crash is replaced.
 */
export function writePidFile(path: string): void {
  let existing: number | undefined;
  try {
    existing = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
  } catch {
    existing = undefined;
  }
  if (existing !== undefined && Number.isInteger(existing) && existing !== process.pid && processAlive(existing)) {
    throw new PatchbayError(ErrorCodes.START_FAILED, `pid file ${path} names process ${existing}, which is running: is another gateway using it?`, {
      context: { path, pid: existing },
    });
  }
  writeFileSync(path, `${process.pid}\n`, { mode: 0o644 });
}

/** Removes the pid file if it is still ours. */
export function removePidFile(path: string): void {
  try {
    if (Number.parseInt(readFileSync(path, 'utf8').trim(), 10) === process.pid) rmSync(path, { force: true });
  } catch {
    // already gone
  }
}
