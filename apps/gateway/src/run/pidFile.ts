import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

function readPid(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes `<pid>\n` to `path` atomically (a temp file renamed over it, so a reader never sees
 * a partial file). Refuses with `START_FAILED` when the file names another live process (a
 * second gateway on the same pid file); a stale file from a crash or SIGKILL is replaced.
 */
export function writePidFile(path: string, pid: number = process.pid): void {
  const existing = readPid(path);
  if (existing !== undefined && existing !== pid && processAlive(existing)) {
    throw new PatchbayError(ErrorCodes.START_FAILED, `pid file ${path} names process ${existing}, which is running: is another gateway using it?`, {
      context: { path, pid: existing },
    });
  }
  const temp = `${path}.${pid}.tmp`;
  try {
    writeFileSync(temp, `${pid}\n`, { mode: 0o644 });
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw new PatchbayError(ErrorCodes.START_FAILED, `cannot write the pid file ${path}: ${(error as Error).message}`, { context: { path }, cause: error });
  }
}

/** Removes the pid file if it is still ours (synchronous: a SIGKILL may follow within milliseconds). */
export function removePidFile(path: string, pid: number = process.pid): void {
  if (readPid(path) !== pid) return;
  try {
    rmSync(path, { force: true });
  } catch {
    // already gone
  }
}
