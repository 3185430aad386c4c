/** @patchbay/journal: the file-backed journal that makes the core's outboxes survive a restart. */
export { defaultJournalOptions, FileJournal, type FileJournalOptions, type FsyncPolicy } from './fileJournal.js';
