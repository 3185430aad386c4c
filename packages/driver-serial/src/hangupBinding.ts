import { read as fsRead } from 'node:fs';
import { promisify } from 'node:util';
import { SerialPort } from 'serialport';

const readAsync = promisify(fsRead);

/** The parts of bindings-cpp's Unix port object the read below needs. */
interface UnixPort {
  fd: number | null;
  readonly isOpen: boolean;
  poller?: { once(event: 'readable', listener: (error?: Error | null) => void): void };
  read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }>;
}

const retryCodes = new Set(['EAGAIN', 'EWOULDBLOCK', 'EINTR']);

/**
 * serialport's binding for this platform, with one fix on Unix: a read returning 0 bytes is
 * the other end hanging up, not "try again".
 *
 * Why: a tty whose other side went away (a pty whose socat died, some USB adapters on
 * unplug) is hung up by the kernel, and every read on it returns 0 at once. bindings-cpp's
 * `unixRead` (v13) retries on 0 without waiting, so the process spins at full CPU and never
 * reports the disconnect. With VMIN=1 (what bindings-cpp opens with) a live port never
 * returns 0 on a non-blocking read (no data is EAGAIN), so 0 is safe to treat as a hang-up.
 * The read otherwise does what bindings-cpp's does: wait for the poller on EAGAIN, and fail
 * with `canceled` once the port is closed (the contract in @serialport/bindings-interface).
 */
export const hangupAwareBinding = {
  list: () => SerialPort.binding.list(),
  async open(options: Parameters<typeof SerialPort.binding.open>[0]) {
    // The detected binding's type is a union per platform; its open takes that platform's options.
    const port = await (SerialPort.binding.open as (o: typeof options) => Promise<unknown>)(options);
    const unix = port as unknown as UnixPort;
    if (typeof unix.fd === 'number' && unix.poller !== undefined) unix.read = (buffer, offset, length) => readUntilHangup(unix, { buffer, offset, length });
    return port;
  },
};

async function readUntilHangup(port: UnixPort, target: { buffer: Buffer; offset: number; length: number }): Promise<{ buffer: Buffer; bytesRead: number }> {
  for (;;) {
    if (!port.isOpen || port.fd === null) throw Object.assign(new Error('Port is not open'), { canceled: true });
    try {
      const { bytesRead } = await readAsync(port.fd, target.buffer, target.offset, target.length, null);
      if (bytesRead > 0) return { buffer: target.buffer, bytesRead };
      throw Object.assign(new Error('the other end hung up (end of file)'), { code: 'EIO', disconnect: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === undefined || !retryCodes.has(code)) throw error;
      if (!port.isOpen) throw Object.assign(new Error('Port is not open'), { canceled: true });
      await new Promise<void>((resolve, reject) => port.poller?.once('readable', (err) => (err ? reject(err) : resolve())));
    }
  }
}
