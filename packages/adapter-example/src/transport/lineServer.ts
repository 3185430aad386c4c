import { rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';

/** A line longer than this closes its connection: a host's command is a few hundred bytes. */
export const MAX_LINE_BYTES = 64 * 1024;

/** What {@link LineServer} calls with each complete line; the answer is written back as one line. */
export type LineHandler = (line: string) => Promise<unknown>;

/**
 * A Unix socket that reads newline-terminated lines and writes one JSON answer per line on
 * the same connection. Single use: `listen` once, `close` once (a restart makes a new one).
 */
export class LineServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly path: string,
    private readonly onLine: LineHandler,
  ) {}

  async listen(): Promise<void> {
    // A socket file left by a killed gateway would make listen fail with EADDRINUSE.
    await rm(this.path, { force: true });
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    // A peer that resets the connection is its own business; the gateway keeps serving.
    socket.on('error', () => socket.destroy());
    let buffered = '';
    const onData = (chunk: string) => {
      buffered += chunk;
      for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        void this.onLine(line).then((answer) => {
          if (!socket.destroyed) socket.write(`${JSON.stringify(answer)}\n`);
        });
      }
      if (Buffer.byteLength(buffered) > MAX_LINE_BYTES) {
        // Fail closed: one bounded answer, then the connection ends and nothing more is read.
        socket.off('data', onData);
        buffered = '';
        socket.end(`${JSON.stringify({ ok: false, error: `line over ${MAX_LINE_BYTES} bytes` })}\n`);
      }
    };
    socket.setEncoding('utf8').on('data', onData);
  }
}
