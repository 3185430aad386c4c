/** @patchbay/journal: the file-backed journal that makes the core's outboxes survive a restart. */
export { FileJournal } from './fileJournal.js';
export { defaultJournalOptions, type FileJournalOptions, type FsyncPolicy } from './options.js';
