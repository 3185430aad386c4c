import { closeSync, existsSync, mkdirSync, openSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ErrorCodes, PatchbayError } from '@patchbay/core';

const HINT = 'set gateway.dataDir, --data-dir or PATCHBAY_DATA_DIR to a writable directory';

/**
 * Makes the data directory (0700) and proves it can be written, so that a read-only or missing
 * one is one clear line at start, not an error from whichever module first writes there. Each
 * missing level is made on its own: a recursive mkdir reports ENOENT on a read-only file
 * system, which hides the real reason.
 */
export function prepareDataDir(dataDir: string): void {
  const dir = resolve(dataDir);
  const missing: string[] = [];
  for (let at = dir; !existsSync(at); at = dirname(at)) missing.unshift(at);
  try {
    for (const level of missing) mkdirSync(level, { mode: 0o700 });
    const probe = join(dir, `.write-test-${process.pid}`);
    closeSync(openSync(probe, 'wx', 0o600));
    unlinkSync(probe);
  } catch (error) {
    throw dataDirError(dir, error);
  }
}

/** The one-line error for a data directory that cannot be used. */
export function dataDirError(dataDir: string, error: unknown): PatchbayError {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === 'EROFS' ? 'it is on a read-only file system'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'ENOTDIR' ? 'a part of its path is a file, not a directory'
    : code === 'ENOSPC' ? 'the disk is full'
    : (error as Error).message;
  return new PatchbayError(ErrorCodes.CONFIG_INVALID, `the data directory ${dataDir} cannot be written: ${why}${code ? ` (${code})` : ''}; ${HINT}`, { context: { dataDir, code } });
}
