/**
 * `@patchbay/adapter-ws/internal`: the wire codec, the upgrade checks and the socket server,
 * for bench/ and tests only. Not a stable surface; the public one is the package's `"."` entry.
 */
export { healthBaseline, healthChanges, type HealthBaseline, type HealthChanges } from './protocol/healthChanges.js';
export { encodeBroadcast, encodeError, encodeHealthChanges, encodeRefusal, encodeReply, encodeSnapshot, MAX_DEPTH, parseClientMessage } from './protocol/messages.js';
export { checkUpgrade, hostUnrebindable, originAllowed, presentedToken, tokenMatches, type UpgradePolicy, type UpgradeRefusal } from './transport/auth.js';
export { WsServer, type WsServerStats } from './transport/server.js';
export { BUSY_TURN_FRAMES, FrameBatch } from './transport/frameBatch.js';
