import { connect } from 'node:net';

/** Dial, write one message, wait for the close (protocols/tracim.md §2.2); rejects on failure or timeout. */
export function sendOnce(path: string, bytes: Buffer, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path });
    const timer = setTimeout(() => socket.destroy(new Error(`no close within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => socket.end(bytes));
    socket.on('data', () => undefined);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('close', (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve();
    });
  });
}
