/**
 * `@patchbay/adapter-jeedom/internal`: the adapter class, the upward payload codec and the
 * socket and HTTP transports, for bench/ and tests only. Not a stable surface; the public one
 * is the package's `"."` entry.
 */
export { createJeedomAdapter, eventChange, JeedomAdapter } from './adapter.js';
export { JEEDOM_GENERIC_TYPES, jeedomDevice, type JeedomCmd, type JeedomDevice } from './protocol/jeedomCmds.js';
export { ChangeTree, PATH_SEPARATOR, singleChangeJson, type ChangeMap, type ChangeMode, type ChangeNode } from './protocol/changeTree.js';
export { pyJson, pyNumber, pyString, type PyJsonValue } from './protocol/pyJson.js';
export { CallbackClient, loggableUrl, withApikey, type CallbackClientOptions } from './transport/callbackClient.js';
export { ChangeSender, type Change, type ChangeSenderOptions } from './transport/changeSender.js';
export { bindError, CommandSocket, type CommandSocketOptions, type JeedomMessage } from './transport/commandSocket.js';
