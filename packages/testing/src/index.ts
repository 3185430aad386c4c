/**
 * @patchbay/testing: test doubles (a fake host, a fake driver), event-driven waiting, helpers
 * to run the real `patchbay` binary, and the conformance suite every host adapter runs.
 */
// The core's fakes, where every package's tests have always found them (they live in @patchbay/core/mock).
export { captureLogger, FakeDriver, FakeHost, MemoryJournal, Signal, type CapturedLine, type CapturedLogger, type CaptureLoggerOptions } from '@patchbay/core/mock';
export { describeHostAdapterConformance, type ConformanceHarness, type HostPeer, type PeerReply } from './conformance.js';
export { embeddedDefaultEnv, freePort, halfOpenRequest } from './ports.js';
export { patchbayCommand, repoRoot, spawnEmbeddedDefault, spawnPatchbay, tempDir, type LogLine, type PatchbayProcess } from './process.js';
export { PtyPair } from './ptyPair.js';
export { PymodbusSlave, type PeerAddress, type PeerTable, type SlaveMode } from './pymodbus.js';
export { recordingDriver } from './recordingDriver.js';
export { JeedomCallback, type CallbackRecord } from './jeedomCallback.js';
export { makeTlsFiles, Mosquitto, type TlsFiles } from './mosquitto.js';
export { startPhpServer } from './phpServer.js';
