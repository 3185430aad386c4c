import type { Logger } from '@patchbay/core';

/** When the journal forces its writes to disk. A `kill -9` loses nothing in any mode (the page cache survives the process); these are about power loss. */
export type FsyncPolicy = 'never' | 'interval' | 'batch';

/** The journal's defaults; the app's config imports them rather than repeating them. */
export const defaultJournalOptions = { fsync: 'interval', fsyncIntervalMs: 1000, segmentBytes: 8 * 1024 * 1024 } as const satisfies Required<Pick<FileJournalOptions, 'fsync' | 'fsyncIntervalMs' | 'segmentBytes'>>;

/** Settings of the file journal. */
export interface FileJournalOptions {
  /** Directory of the segment files (created 0700 if missing). */
  dir: string;
  /** `batch`: fdatasync after every batch; `interval`: at most every `fsyncIntervalMs`; `never`: leave it to the OS. */
  fsync?: FsyncPolicy;
  fsyncIntervalMs?: number;
  /** Roll to a new segment past this size. */
  segmentBytes?: number;
  /** Write the buffer once it holds this many bytes, without waiting for the end of the tick. */
  maxBufferBytes?: number;
  /**
   * Bytes kept aside in a `reserve` file (default 256 KiB, 0 for none). When the disk fills,
   * it is given up so that the replies owed to accepted commands, and the cursors, can still
   * be written: those commands then get exactly one reply even across a crash.
   */
  reserveBytes?: number;
  /** How often a journal that cannot write tries again (default 1000 ms). */
  retryMs?: number;
  logger?: Logger;
}
