/**
 * @patchbay/adapter-jeedom: Patchbay as a Jeedom plugin daemon (protocols/jeedom.md).
 * Commands come in on the TCP command socket, one JSON object per connection; state,
 * replies and status go up to the plugin's callback script, batched per cycle.
 */
import { defineAdapter } from '@patchbay/core';
import { JeedomAdapter } from './adapter.js';
import { jeedomConfig } from './config.js';

export { eventChange, JeedomAdapter } from './adapter.js';
export { CallbackClient, type CallbackClientOptions } from './callbackClient.js';
export { ChangeSender, type Change, type ChangeSenderOptions } from './changeSender.js';
export { ChangeTree, PATH_SEPARATOR, type ChangeMap, type ChangeNode } from './changeTree.js';
export { CommandSocket, type CommandSocketOptions, type JeedomMessage } from './commandSocket.js';
export { jeedomConfig, type JeedomConfig } from './config.js';
export { pyJson, pyNumber, pyString, type PyJsonValue } from './pyJson.js';

/** The `jeedom` adapter definition. */
const jeedomAdapter = defineAdapter({
  type: 'jeedom',
  description: 'Jeedom plugin daemon: TCP command socket down, HTTP callback up (batched per cycle)',
  config: jeedomConfig,
  create: (config, ctx) => new JeedomAdapter(config, ctx),
  // The command socket's budget for all unfinished messages (13.7).
  inputBudgetBytes: (config) => config.maxBufferedBytes,
});

export default jeedomAdapter;
