import { connect } from 'node:net';
import { describeError, ErrorCodes, PatchbayError } from '@patchbay/core';
import type { Connection, Transport } from '@patchbay/driver-serial';

/**
 * A TCP socket as a transport of fresh, single-use connections (the serial driver's contract),
 * so one reconnect loop serves serial lines and sockets alike.
 */
export function tcpTransport(options: { host: string; port: number; connectTimeoutMs: number }): Transport {
  const where = `${options.host}:${options.port}`;
  return (handlers) =>
    new Promise<Connection>((resolve, reject) => {
      const socket = connect({ host: options.host, port: options.port });
      let opened = false;
      let ended = false;
      const timer = setTimeout(() => socket.destroy(new Error(`no connection within ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => handlers.data(chunk));
      socket.on('drain', () => handlers.drain());
      socket.on('error', (error) => {
        if (!opened) {
          clearTimeout(timer);
          reject(new PatchbayError(ErrorCodes.DEVICE_UNAVAILABLE, `cannot connect to ${where}: ${describeError(error).replace(/^Error: /, '')}`, { context: { where }, cause: error }));
        }
      });
      socket.on('close', (hadError) => {
        if (!opened || ended) return;
        ended = true;
        handlers.closed(hadError ? 'connection lost' : 'connection closed by the peer');
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        opened = true;
        resolve({
          write: (bytes) => socket.write(bytes),
          close: () =>
            new Promise<void>((done) => {
              if (socket.destroyed) return done();
              socket.once('close', () => done());
              socket.destroy();
            }),
        });
      });
    });
}
