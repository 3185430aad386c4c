import { describeError, ErrorCodes, isPatchbayError } from '@patchbay/core';
import { isTimeout } from './bus.js';

/**
 * The reply codes of Modbus exceptions, one per exception code of the spec (Modbus
 * Application Protocol v1.1b3, section 7), so a host can tell "no such register" from "busy".
 */
export const ModbusErrorCodes = {
  1: 'MODBUS_01_ILLEGAL_FUNCTION',
  2: 'MODBUS_02_ILLEGAL_DATA_ADDRESS',
  3: 'MODBUS_03_ILLEGAL_DATA_VALUE',
  4: 'MODBUS_04_SLAVE_DEVICE_FAILURE',
  5: 'MODBUS_05_ACKNOWLEDGE',
  6: 'MODBUS_06_SLAVE_DEVICE_BUSY',
  7: 'MODBUS_07_NEGATIVE_ACKNOWLEDGE',
  8: 'MODBUS_08_MEMORY_PARITY_ERROR',
  10: 'MODBUS_0A_GATEWAY_PATH_UNAVAILABLE',
  11: 'MODBUS_0B_GATEWAY_TARGET_FAILED',
} as const satisfies Record<number, string>;

/** Any other exception code a slave may send. */
export const MODBUS_UNKNOWN_EXCEPTION = 'MODBUS_UNKNOWN_EXCEPTION';
/** A reply that could not be used (bad CRC, wrong unit, wrong length): the request failed. */
export const MODBUS_BAD_REPLY = 'MODBUS_BAD_REPLY';

/** A failed request, as the driver reports it. */
export interface RequestFailure {
  code: string;
  message: string;
  timeout: boolean;
  exception: boolean;
}

/** Sorts a modbus-serial (or bus) error into a coded failure. */
export function classifyFailure(error: unknown): RequestFailure {
  const modbusCode = typeof error === 'object' && error !== null ? (error as { modbusCode?: unknown }).modbusCode : undefined;
  if (typeof modbusCode === 'number') {
    const code = (ModbusErrorCodes as Record<number, string>)[modbusCode] ?? MODBUS_UNKNOWN_EXCEPTION;
    return { code, message: `the device answered with ${describeError(error).replace(/^Error: /, '')}`, timeout: false, exception: true };
  }
  if (isTimeout(error)) return { code: ErrorCodes.COMMAND_TIMEOUT, message: 'the device did not answer in time', timeout: true, exception: false };
  if (isPatchbayError(error)) return { code: error.code, message: error.message, timeout: false, exception: false };
  const message = describeError(error).replace(/^Error: /, '');
  if (message === 'Port Not Open') return { code: ErrorCodes.DEVICE_UNAVAILABLE, message: 'the connection is down', timeout: false, exception: false };
  return { code: MODBUS_BAD_REPLY, message: `unusable reply: ${message}`, timeout: false, exception: false };
}
