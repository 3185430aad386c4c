/**
 * The device end of the pty, run as its own process so neither side of the line shares an
 * event loop with the other: `echo PATH` sends every line back unchanged (the raw baseline),
 * `sim PATH` runs the simulated device speaking jsonl (the gateway path).
 * Prints "ready" once the port is open; exits on SIGTERM.
 */
import { serveSimulatedDevice } from '@patchbay/driver-serial';
import { SerialPort } from 'serialport';

const [mode, path] = process.argv.slice(2);
if ((mode !== 'echo' && mode !== 'sim') || !path) {
  console.error('usage: device.ts echo|sim PATH');
  process.exit(2);
}

let stop: () => Promise<void>;
if (mode === 'sim') {
  // A long interval: only the command traffic crosses the line while measuring.
  const sim = await serveSimulatedDevice({ path, interval: 3_600_000 });
  if (!sim.connected) throw new Error(`cannot open ${path}`);
  stop = () => sim.stop();
} else {
  const port = new SerialPort({ path, baudRate: 115_200, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  // Echo whole lines, as a device answers whole frames.
  let pending = '';
  port.on('data', (chunk: Buffer) => {
    pending += chunk.toString('latin1');
    const end = pending.lastIndexOf('\n');
    if (end < 0) return;
    port.write(Buffer.from(pending.slice(0, end + 1), 'latin1'));
    pending = pending.slice(end + 1);
  });
  stop = () => new Promise<void>((resolve) => port.close(() => resolve()));
}
process.stdout.write('ready\n');
process.once('SIGTERM', () => void stop().then(() => process.exit(0)));
