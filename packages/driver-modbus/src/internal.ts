/**
 * Internals for the bench and tests, not the public surface: the driver with its poll cycle,
 * the planner, the codecs of values and frames.
 */
export { acquireBus, connectionLabel, releaseBus, type Bus } from './bus.js';
export { createModbusDriver, type ModbusDriver, type ModbusDriverOptions } from './driver.js';
export { classifyFailure } from './errors.js';
export { crc16, expectedReply, MbapCodec, RtuReceiver } from './frames.js';
export { planReads, specLimits, type PlanLimits, type ReadRequest } from './planner.js';
export { confirmedValue, decodeChannel, describeChannel, describeMap, encodeChannel } from './values.js';
