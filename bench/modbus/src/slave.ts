/**
 * The slave end of the pty, in its own process so it shares no event loop with the client
 * being measured: answers "read holding registers" (FC3) for unit 1 with `count` registers
 * whose values all change on every read (so the driver reports every one, its worst case).
 * Prints "ready" once the port is open; exits on SIGTERM.
 */
import { crc16 } from '@patchbay/driver-modbus/internal';
import { SerialPort } from 'serialport';

const path = process.argv[2];
if (!path) {
  console.error('usage: slave.ts PATH');
  process.exit(2);
}
const port = new SerialPort({ path, baudRate: 115_200, autoOpen: false });
await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
let generation = 0;
let pending = Buffer.alloc(0);
port.on('data', (chunk: Buffer) => {
  pending = Buffer.concat([pending, chunk]);
  while (pending.length >= 8) {
    const request = pending.subarray(0, 8);
    pending = pending.subarray(8);
    const count = request.readUInt16BE(4);
    const reply = Buffer.alloc(5 + count * 2);
    reply[0] = request[0] as number;
    reply[1] = 3;
    reply[2] = count * 2;
    generation = (generation + 1) & 0xff;
    for (let i = 0; i < count; i++) reply.writeUInt16BE(generation * 256 + i, 3 + i * 2);
    reply.writeUInt16LE(crc16(reply.subarray(0, -2)), reply.length - 2);
    port.write(reply);
  }
});
process.stdout.write('ready\n');
process.once('SIGTERM', () => port.close(() => process.exit(0)));
