/**
 * @patchbay/adapter-jeedom: Patchbay as a Jeedom plugin daemon (protocols/jeedom.md).
 * Commands come in on the TCP command socket, one JSON object per connection; state,
 * replies and status go up to the plugin's callback script, batched per cycle. Codecs and
 * transports for bench and tests: `@patchbay/adapter-jeedom/internal`; what the gateway's
 * Jeedom launch mode needs: `@patchbay/adapter-jeedom/launch`.
 */
import { defineAdapter } from '@patchbay/core';
import { createJeedomAdapter } from './adapter.js';
import { jeedomConfig } from './config.js';

export type { JeedomAdapter } from './adapter.js';
export { jeedomConfig, type JeedomConfig } from './config.js';

/** The `jeedom` adapter definition. */
const jeedomAdapter = defineAdapter({
  type: 'jeedom',
  description: 'Jeedom plugin daemon: TCP command socket down, HTTP callback up (batched per cycle)',
  config: jeedomConfig,
  create: createJeedomAdapter,
  // The command socket's budget for all unfinished messages (13.7).
  inputBudgetBytes: (config) => config.maxBufferedBytes,
});

export default jeedomAdapter;
