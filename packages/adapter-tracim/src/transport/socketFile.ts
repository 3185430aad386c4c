import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { ErrorCodes, PatchbayError } from '@patchbay/core';

/**
 * Tries to connect to a Unix socket: 'live', 'stale' (refused) or 'absent'. A listener that
 * answers is sent one well-formed `daemon_ack` (which every TracimDaemon ignores, §4) and is
 * left to close: an empty connection would be logged by a live master as a bad message.
 */
export function probeSocket(path: string, timeoutMs = 1000): Promise<'live' | 'stale' | 'absent'> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    let result: 'live' | 'stale' | 'absent' | undefined;
    const timer = setTimeout(() => {
      // Accepting nothing for a second is a wedged listener, but a listener all the same.
      result ??= 'live';
      socket.destroy();
    }, timeoutMs);
    socket.once('connect', () => {
      result = 'live';
      socket.end(JSON.stringify({ path, type: 'daemon_ack' }));
    });
    socket.on('data', () => undefined);
    socket.once('error', (error: NodeJS.ErrnoException) => {
      result ??= error.code === 'ENOENT' ? 'absent' : error.code === 'EAGAIN' ? 'live' : 'stale';
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(result ?? 'stale');
    });
  });
}

/** The socket path is held by a live listener: restarting will not change that. */
export const SOCKET_IN_USE = 'socket-in-use';

/**
 * Makes `path` free to listen on (protocols/tracim.md §10): create the parent directory
 * (0700) if missing; refuse when a live listener answers there or when the file is not a
 * socket; delete a stale socket file (what the reference leaves behind when killed, §2.8).
 * Returns true when a stale file was replaced.
 */
export async function claimSocketPath(path: string, what: string): Promise<boolean> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  if (!stats.isSocket()) {
    throw new PatchbayError(ErrorCodes.CONFIG_INVALID, `${what} ${path} exists and is not a socket; refusing to delete it. Remove it or choose another path.`, {
      context: { path },
    });
  }
  const state = await probeSocket(path);
  if (state === 'live') {
    throw new PatchbayError(ErrorCodes.START_FAILED, `${what} ${path} is in use: another process is listening on it (a running TracimDaemon or Patchbay?). Stop it or choose another path.`, {
      context: { path, reason: SOCKET_IN_USE },
    });
  }
  if (state === 'stale') await unlink(path).catch(() => undefined);
  return state === 'stale';
}

/** Removes a socket file if it is still there; never throws. */
export async function removeSocketFile(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

/**
 * Listens on a Unix socket path already claimed with {@link claimSocketPath}; resolves once
 * bound. With `mode`, the socket file has those permissions from the moment it exists (§2.9,
 * §10). Later server errors are reported to `onError` (the socket stays the caller's to close).
 */
export async function listenUnix(path: string, handlers: { onConnection: (socket: Socket) => void; onError: (error: Error) => void; mode?: number }): Promise<Server> {
  const { mode } = handlers;
  const server = createServer(handlers.onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Node binds inside listen(), synchronously: under this umask the file is created with no
    // more than `mode`, where a chmod afterwards leaves a moment at 0777 & ~umask. The umask is
    // the process's, so it is put back before anything else runs. Worker threads may not set
    // it; there the chmod below is all there is.
    const umask = mode !== undefined && isMainThread ? process.umask(0o777 & ~mode) : undefined;
    try {
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      if (umask !== undefined) process.umask(umask);
    }
  });
  if (mode !== undefined) {
    // The umask can only take bits away: the chmod sets exactly `mode` (0660 for a group too).
    await chmod(path, mode).catch((error: unknown) => {
      server.close();
      throw error;
    });
  }
  server.on('error', handlers.onError);
  return server;
}
