/**
 * @patchbay/driver-modbus: Modbus slaves (energy meters, heat pumps, inverters) over RTU on a
 * serial line, RTU over TCP, or Modbus TCP, on `modbus-serial`. A register map describes the
 * device; reads are grouped into as few requests as the map allows; devices on one line share
 * one connection with one request in flight.
 */
import { defineDriver } from '@patchbay/core';
import { modbusConfig } from './config.js';
import { createModbusDriver } from './driver.js';

export { counterNames, type ModbusCounters } from './badInput.js';
export { channelConfig, connectionConfig, modbusConfig, type ChannelConfig, type ConnectionConfig, type ModbusConfig, type TableName, type ValueType } from './config.js';
export { MODBUS_BAD_REPLY, MODBUS_UNKNOWN_EXCEPTION, ModbusErrorCodes } from './errors.js';
export type { BadInputKind } from './frames.js';

/** The `modbus` driver definition: `{ driver: modbus, options: { connection: { type: rtu, path: /dev/ttyUSB0 }, channels: {...} } }`. */
const modbusDriver = defineDriver({
  type: 'modbus',
  description: 'A Modbus slave (RTU, RTU over TCP, Modbus TCP) described by its register map',
  config: modbusConfig,
  create: (config, ctx) => createModbusDriver(config, ctx),
});

export default modbusDriver;
