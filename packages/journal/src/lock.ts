import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, PatchbayError, type Logger, describeError } from '@patchbay/core';

/** True while a process with this id exists (EPERM: it exists, owned by someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the journal directory's lock: a `lock` file made with O_EXCL holding our pid. Two
 * gateways writing one journal would interleave sequence numbers, so a second one refuses to
 * start, naming the directory and the holder's pid. A lock whose pid is gone (a `kill -9`,
 * a power cut) is taken over, as is one holding our own pid (a journal of this very process
 * that was never closed, or a container whose gateway is pid 1 on every start).
 * Returns the function that releases it.
 */
export function acquireLock(dir: string, logger: Logger): () => void {
  const path = join(dir, 'lock');
  const mine = `${process.pid}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, mine);
      } finally {
        closeSync(fd);
      }
      return () => {
        try {
          if (readFileSync(path, 'utf8') === mine) unlinkSync(path);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' || attempt >= 2) {
        throw new PatchbayError(ErrorCodes.JOURNAL_IO, `cannot write to the journal directory ${dir} (${describeError(error)})`, { cause: error, context: { dir } });
      }
    }
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      continue; // released between our two calls: try again
    }
    const pid = /^\d+\n?$/.test(text) ? Number(text) : undefined;
    if (pid !== undefined && pid !== process.pid && alive(pid)) {
      throw new PatchbayError(ErrorCodes.JOURNAL_LOCKED, `the journal directory ${dir} is in use by another gateway (pid ${pid}); stop that one, or give this one another dataDir`, {
        context: { dir, pid },
      });
    }
    logger.warn({ dir, pid: pid ?? null }, `journal: taking over the lock of ${dir} left by ${pid === undefined ? 'an unreadable lock file' : pid === process.pid ? 'this same process' : `pid ${pid}, which is no longer running`}`);
    try {
      unlinkSync(path);
    } catch {
      // Someone else took it over first: the next attempt sees theirs.
    }
  }
}
