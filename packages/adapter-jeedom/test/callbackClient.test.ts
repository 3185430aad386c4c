import { spawn } from 'node:child_process';
import net from 'node:net';
import { isPatchbayError, ErrorCodes } from '@patchbay/core';
import { captureLogger } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { CallbackClient } from '../src/index.js';
import { PhpCallback } from './peer.js';

/**
 * A TCP listener that never accepts, with its accept queue filled: the kernel then drops
 * further SYNs, so a connect hangs (what an unreachable callback host looks like).
 */
async function blackhole(): Promise<{ port: number; close: () => void; fillers: net.Socket[] }> {
  const script = 'import socket,sys\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()';
  const child = spawn('/usr/bin/python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  // Fill the accept queue (backlog 0 still admits one or two, depending on the kernel).
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 3; i++) {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    fillers.push(socket);
  }
  await new Promise<void>((resolve) => fillers[0]?.once('connect', () => resolve()));
  return {
    port,
    fillers,
    close: () => {
      for (const s of fillers) s.destroy();
      child.stdin.end();
      child.kill();
    },
  };
}

describe('jeedom - callback HTTP client (§4.4)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void> | void)();
  });

  it('jeedom - §10.31 a connect that hangs fails after the 0.5 s connect timeout, 3 attempts, then HOST_UNREACHABLE', async () => {
    const hole = await blackhole();
    cleanups.push(() => hole.close());
    const logger = captureLogger();
    const client = new CallbackClient({ callback: `http://127.0.0.1:${hole.port}/x.php`, apikey: 'k'.repeat(32), logger, retryDelayMs: 50 });
    cleanups.push(() => client.close());
    const error = await client.post('{"a": 1}').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isPatchbayError(error, ErrorCodes.HOST_UNREACHABLE)).toBe(true);
    expect(logger.find(/connect timeout after 500 ms" retry: [012]\/3/, 'error')).toHaveLength(3);
  });

  it('jeedom - §10.31 the response timeout is separate from the connect timeout (a short one fails a slow answer)', async () => {
    const peer = await PhpCallback.start();
    cleanups.push(() => peer.close());
    peer.control({ delayMs: 1500 });
    const logger = captureLogger();
    const client = new CallbackClient({ callback: peer.url, apikey: 'k'.repeat(32), logger, responseTimeoutMs: 300, retryDelayMs: 50, attempts: 1 });
    cleanups.push(() => client.close());
    await expect(client.post('{"a": 1}')).rejects.toThrow(/failed 1 attempts/);
    expect(logger.find(/no answer within 300 ms/, 'error')).toHaveLength(1);
  });
});
