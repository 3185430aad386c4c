/**
 * @patchbay/adapter-domogik: Patchbay as a Domogik plugin on the Domogik ZeroMQ bus
 * (protocols/domogik.md), and an embedded bus (broker + forwarder compatible with
 * domogik-mq) so that Domogik-speaking programs can run without Domogik. The bus parts and
 * codecs, for bench and tests: `@patchbay/adapter-domogik/internal`.
 */
import { defineAdapter } from '@patchbay/core';
import { createDomogikAdapter } from './adapter.js';
import { domogikConfig } from './config.js';

export { domogikConfig, type DomogikConfig } from './config.js';

/** The `domogik` host adapter definition. */
const domogikAdapter = defineAdapter({
  type: 'domogik',
  description: 'Domogik: a plugin on the Domogik ZeroMQ bus (client.sensor out, client.cmd in), or on an embedded bus',
  config: domogikConfig,
  create: createDomogikAdapter,
});

export default domogikAdapter;
