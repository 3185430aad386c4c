/**
 * @patchbay/driver-serial: devices on a serial line (or a pseudo-terminal). `serialport` for
 * the port, a framing (delimiter or length prefix) and a codec (`jsonl` or `kv`) for the
 * bytes, a reconnect loop for cables that get pulled; and the simulated device speaking the
 * same codecs from the other end of the line.
 */
import { defineDriver } from '@patchbay/core';
import { serialConfig } from './config.js';
import { createSerialDriver } from './driver.js';

export { counterNames, type SerialCounters } from './badInput.js';
export { createCodec, jsonlCodec, kvCodec, type Codec, type Decoded, type WireCommand, type WireReply } from './codec.js';
export { codecName, framingConfig, serialConfig, type CodecName, type FramingConfig, type SerialConfig } from './config.js';
export { createSerialDriver } from './driver.js';
export { Link, type LinkHandlers, type LinkOptions } from './link.js';
export { createFramer, type BadFrameKind, type FrameSink, type Framer } from './framing.js';
export { serveSimulatedDevice, type SimulatedSerialDevice, type SimulatedSerialOptions } from './simulator.js';
export { serialTransport, type Connection, type ConnectionHandlers, type SerialLineOptions, type Transport } from './transport.js';

/** The `serial` driver definition: `{ driver: serial, options: { path: /dev/ttyUSB0 } }`. */
const serialDriver = defineDriver({
  type: 'serial',
  description: 'A device on a serial line: jsonl or key=value frames, reconnects when the port comes back',
  config: serialConfig,
  create: (config, ctx) => createSerialDriver(config, ctx),
});

export default serialDriver;
