import { spawnPatchbay, type PatchbayProcess } from '@patchbay/testing';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { peer, tempDir } from './helpers.js';

// §8 items 37-38 against the real `patchbay` binary in a child process: signals, the PID file
// and the default daemon.shutdown hook (which sends the process SIGTERM).

interface Daemon {
  child: PatchbayProcess['child'];
  socket: string;
  pidFile: string;
  output(): string;
  exited: Promise<number | string>;
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
  const config = join(dir.path, 'patchbay.json');
  writeFileSync(
    config,
    JSON.stringify({
      gateway: { dataDir: join(dir.path, 'data'), http: { enabled: false }, drainTimeoutMs: 200 },
      log: { format: 'json' },
      devices: [{ id: 'thermo1', driver: 'sim', options: { interval: 3_600_000 } }],
      hosts: [{ id: 'rpc', adapter: 'comodojo', options: { socket: `unix://${socket}`, allowShutdown: true } }],
    }),
  );
  const proc = spawnPatchbay(['run', '--config', config, '--pid', pidFile]);
  cleanups.push(() => {
    proc.child.kill('SIGKILL');
    dir.remove();
  });
  await proc.waitStarted();
  const output = () => proc.lines.map((l) => l.msg).join('\n');
  const waitFor = async (text: string) => {
    await proc.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes(text), { what: `"${text}" from the gateway` });
  };
  return { child: proc.child, socket: `unix://${socket}`, pidFile, output, exited: proc.exited, waitFor };
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

  it('comodojo - §8.38 SIGHUP reloads the config and does not stop the server', async () => {
    const d = await startDaemon();
    d.child.kill('SIGHUP');
    await d.waitFor('SIGHUP received: reloading the config');
    await d.waitFor('reload from');
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
    expect(d.output()).toContain('SIGTERM received: stopping');
    expect(existsSync(d.socket.slice(7))).toBe(false);
    expect(existsSync(d.pidFile)).toBe(false);
  });
});
