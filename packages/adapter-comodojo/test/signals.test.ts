import { Signal } from '@patchbay/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { peer, tempDir } from './helpers.js';

// §8 items 37-38 in a real child process: signals, the PID file and the default daemon.shutdown hook.

interface Daemon {
  child: ChildProcess;
  socket: string;
  pidFile: string;
  output(): string;
  exited: Promise<number | null>;
  waitFor(text: string): Promise<void>;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()?.();
});

async function startDaemon(): Promise<Daemon> {
  const dir = tempDir('comodojo-sig-');
  const socket = join(dir.path, 'daemon.sock');
  const pidFile = join(dir.path, 'daemon.pid');
  const child = spawn(process.execPath, ['--conditions=@patchbay/source', '--import', 'tsx', join(import.meta.dirname, 'fixtures/daemon.ts'), socket, pidFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanups.push(() => {
    child.kill('SIGKILL');
    dir.remove();
  });
  let out = '';
  const changed = new Signal();
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    changed.notify();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = async (text: string) => {
    await changed.waitUntil(() => (out.includes(text) ? true : undefined), { timeoutMs: 15_000, what: `"${text}" from the daemon` });
  };
  await waitFor('ready');
  return { child, socket: `unix://${socket}`, pidFile, output: () => out, exited, waitFor };
}

describe('comodojo - signals', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`comodojo - §8.38 ${signal} stops gracefully: exit 0, socket file and PID file removed`, async () => {
      const d = await startDaemon();
      expect(existsSync(d.pidFile)).toBe(true);
      d.child.kill(signal);
      expect(await d.exited).toBe(0);
      expect(existsSync(d.socket.slice(7))).toBe(false);
      expect(existsSync(d.pidFile)).toBe(false);
    });
  }

  it('comodojo - §8.38 SIGHUP does not stop the server', async () => {
    const d = await startDaemon();
    d.child.kill('SIGHUP');
    await d.waitFor('SIGHUP ignored');
    const [r] = await peer(d.socket, [{ op: 'call', method: 'worker.list' }]);
    expect(r?.decoded?.result).toEqual([{ name: 'thermo1', looptime: 1, forever: true }]);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });

  it('comodojo - §8.37 daemon.shutdown (default hook) answers 0, then the process stops and removes socket and PID files', async () => {
    const d = await startDaemon();
    const [r] = await peer(d.socket, [{ op: 'call', method: 'daemon.shutdown', id: 1 }]);
    expect(r?.decoded).toEqual({ jsonrpc: '2.0', id: 1, result: 0 });
    expect(await d.exited).toBe(0);
    expect(d.output()).toContain('stopped on SIGTERM');
    expect(existsSync(d.socket.slice(7))).toBe(false);
    expect(existsSync(d.pidFile)).toBe(false);
  });
});
