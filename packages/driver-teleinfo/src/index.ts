/**
 * @patchbay/driver-teleinfo: the customer output (Télé-Information Client) of French
 * electricity meters, historic mode (Enedis-NOI-CPT_02E) and standard mode
 * (Enedis-NOI-CPT_54E), read from a serial Teleinfo modem.
 */
import { defineDriver } from '@patchbay/core';
import { teleinfoConfig } from './config.js';
import { createTeleinfoDriver } from './driver.js';

export { checksumOf, TeleinfoDecoder, type BadInputKind, type ChecksumMode, type DecoderOptions, type Group } from './codec.js';
export { teleinfoConfig, type TeleinfoConfig } from './config.js';
export { counterNames, createTeleinfoDriver } from './driver.js';
export { describeLabel, historicLabels, standardLabels } from './labels.js';

/** The `teleinfo` driver definition: `{ driver: teleinfo, options: { path: /dev/ttyUSB0, mode: historic } }`. */
const teleinfoDriver = defineDriver({
  type: 'teleinfo',
  description: 'A French electricity meter (Teleinfo, historic or standard mode) on a serial line',
  config: teleinfoConfig,
  create: (config, ctx) => createTeleinfoDriver(config, ctx),
});

export default teleinfoDriver;
