/**
 * @patchbay/core/mock: the core's test doubles, a fake host, a fake driver, a logger and
 * metrics sink that record, event-driven waiting and an in-memory journal. A second entry
 * (as zwave-js's `./mock`) so the core's own supervision and durability tests need no other
 * package; @patchbay/testing re-exports them. For tests and bench only (the boundary lint).
 */
export { captureLogger, type CapturedLine, type CapturedLogger, type CaptureLoggerOptions } from './capture.js';
export { FakeDriver } from './fakeDriver.js';
export { FakeHost } from './fakeHost.js';
export { MemoryJournal } from './memoryJournal.js';
export { Signal } from './signal.js';
