import { describeError, ErrorCodes, PatchbayError } from '@patchbay/core';
import { SerialPort } from 'serialport';
import { hangupAwareBinding } from './hangupBinding.js';

/** What a transport tells its user about one connection. */
export interface ConnectionHandlers {
  data(chunk: Buffer): void;
  /** The stream can take more after `write` returned false. */
  drain(): void;
  /** The connection ended (lost or closed); called exactly once, never before the open resolved. */
  closed(reason: string): void;
}

/** One open connection. Single-use: once closed it stays closed. */
export interface Connection {
  /** Queue bytes; false means wait for `drain` before writing more. */
  write(bytes: Buffer): boolean;
  /** Close it; resolves once closed (at once if it already is). */
  close(): Promise<void>;
}

/**
 * A transport is a factory of fresh, single-use connections (STYLE.md, after zwave-js's
 * `ZWaveSerialStream` and nats.js's transports): reconnecting means calling it again.
 * Rejects with DEVICE_UNAVAILABLE when the port cannot be opened.
 */
export type Transport = (handlers: ConnectionHandlers) => Promise<Connection>;

/** Line settings of a serial port. */
export interface SerialLineOptions {
  path: string;
  baudRate: number;
  dataBits: 5 | 6 | 7 | 8;
  parity: 'none' | 'even' | 'odd' | 'mark' | 'space';
  stopBits: 1 | 1.5 | 2;
  rtscts: boolean;
}

/** A transport over `serialport`: each call opens the port anew. */
export function serialTransport(line: SerialLineOptions): Transport {
  return (handlers) =>
    new Promise<Connection>((resolve, reject) => {
      // serialport's typings omit `binding`, but its constructor honours it (serialport.js spreads options over the default).
      const port = new SerialPort({ ...line, autoOpen: false, binding: hangupAwareBinding } as ConstructorParameters<typeof SerialPort>[0]);
      let opened = false;
      let ended = false;
      let lastError: Error | undefined;
      const end = (reason: string): void => {
        if (ended || !opened) return;
        ended = true;
        port.removeAllListeners('data');
        handlers.closed(reason);
      };
      // serialport reports a lost device as a `close` carrying a DisconnectedError; a write
      // cut short by it surfaces as `error` too. Listening to `error` is what keeps a pulled
      // cable from being an uncaught exception.
      port.on('error', (error: Error) => {
        lastError = error;
        if (opened && !port.isOpen && !port.closing) end(describeError(error));
      });
      port.on('close', (error: Error | null | undefined) => end(error ? `lost: ${describeError(error)}` : lastError ? `closed: ${describeError(lastError)}` : 'closed'));
      port.on('data', (chunk: Buffer) => handlers.data(chunk));
      port.on('drain', () => handlers.drain());
      port.open((error) => {
        if (error) {
          port.removeAllListeners();
          // Keep an `error` listener: a late error on a port that never opened must not crash.
          port.on('error', () => undefined);
          reject(
            new PatchbayError(ErrorCodes.DEVICE_UNAVAILABLE, `cannot open serial port ${line.path}: ${describeError(error).replace(/^Error: /, '')}`, {
              context: { path: line.path },
              cause: error,
            }),
          );
          return;
        }
        opened = true;
        resolve({
          write: (bytes) => port.write(bytes),
          close: () =>
            new Promise<void>((done) => {
              if (port.isOpen) port.close(() => done());
              else if (port.closing) port.once('close', () => done());
              else done();
            }),
        });
      });
    });
}
