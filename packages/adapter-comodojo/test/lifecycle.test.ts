import { createGateway } from '@patchbay/core';
import sim from '@patchbay/driver-sim';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import comodojo from '../src/index.js';
import { FrameClient, open, peer, startRig, tempDir } from './helpers.js';

// §8 items 37 and 43, unix sockets, start/stop (the shared conformance suite: conformance.test.ts).

const dirs: { remove(): void }[] = [];
afterEach(() => {
  while (dirs.length > 0) dirs.pop()?.remove();
});
function sockPath(): string {
  const dir = tempDir('comodojo-');
  dirs.push(dir);
  return join(dir.path, 'daemon.sock');
}

describe('comodojo - lifecycle', () => {
  it('comodojo - unix socket: mode 0600 by default, removed at stop, start/stop twice', async () => {
    const path = sockPath();
    for (let round = 0; round < 2; round++) {
      const rig = await startRig({ adapterOptions: { socket: `unix://${path}` } });
      expect(rig.socket).toBe(`unix://${path}`);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const [r] = await peer(rig.socket, [{ op: 'call', method: 'test.echo', params: ['unix'] }]);
      expect(r?.decoded?.result).toBe('unix');
      await rig.stop();
      expect(existsSync(path)).toBe(false);
    }
  });

  it('comodojo - a stale unix socket file is removed before binding', async () => {
    const path = sockPath();
    const { createServer } = await import('node:net');
    // Leave a socket file behind with nobody listening: a server that is closed without unlinking.
    const stale = createServer();
    await new Promise<void>((resolve) => stale.listen(path, resolve));
    const { renameSync } = await import('node:fs');
    renameSync(path, path + '.keep');
    await new Promise<void>((resolve) => stale.close(() => resolve()));
    renameSync(path + '.keep', path);
    const rig = await startRig({ adapterOptions: { socket: `unix://${path}` } });
    const [r] = await peer(rig.socket, [{ op: 'call', method: 'test.echo', params: ['fresh'] }]);
    expect(r?.decoded?.result).toBe('fresh');
    await rig.stop();
  });

  it('comodojo - §8.43 a second instance on the same live unix socket fails and leaves the first one serving', async () => {
    const path = sockPath();
    const first = await startRig({ adapterOptions: { socket: `unix://${path}` } });
    const inode = statSync(path).ino;
    const second = createGateway({
      devices: [{ id: 'thermo1', definition: sim }],
      hosts: [{ id: 'rpc', definition: comodojo, options: { socket: `unix://${path}` } }],
      restart: { maxRestarts: 0 },
    });
    await second.start().catch(() => undefined);
    expect(second.health().hosts[0]?.status).not.toBe('alive');
    await second.stop({ drainTimeoutMs: 100 });
    expect(statSync(path).ino).toBe(inode);
    const [r] = await peer(first.socket, [{ op: 'call', method: 'test.echo', params: ['first'] }]);
    expect(r?.decoded?.result).toBe('first');
    await first.stop();
  });

  it('comodojo - §8.37 daemon.shutdown answers 0 before the listener closes, then the socket file is gone', async () => {
    const path = sockPath();
    let stopped: Promise<void> | undefined;
    const rig = await startRig({
      adapterOptions: { socket: `unix://${path}`, allowShutdown: true },
      definition: { shutdown: () => void (stopped = rig.stop()) },
    });
    const client = await open(rig.socket);
    const response = await client.call('application/json', '{"jsonrpc":"2.0","method":"daemon.shutdown","params":[],"id":1}');
    expect(JSON.parse(response.message ?? '')).toEqual({ jsonrpc: '2.0', id: 1, result: 0 });
    await client.waitClosed();
    await stopped;
    expect(existsSync(path)).toBe(false);
    await expect(FrameClient.connect(rig.socket)).rejects.toThrow();
  });

  it('comodojo - §4.5 daemon.shutdown is listed but answers error 4010 when allowShutdown is false', async () => {
    let called = false;
    const rig = await startRig({ definition: { shutdown: () => (called = true) } });
    const [j, x] = await peer(rig.socket, [
      { op: 'call', method: 'daemon.shutdown' },
      { op: 'call', protocol: 'xml', method: 'daemon.shutdown' },
    ]);
    expect(j?.decoded?.error).toMatchObject({ code: 4010 });
    expect(x?.fault?.faultCode).toBe(4010);
    expect(called).toBe(false);
    await rig.stop();
  });

  it('comodojo - config errors name the option: udp:// and a bad mode are refused', () => {
    expect(comodojo.config.safeParse({ socket: 'udp://127.0.0.1:1' }).success).toBe(false);
    expect(comodojo.config.safeParse({ socketMode: '999' }).success).toBe(false);
    expect(comodojo.config.parse({})).toMatchObject({ socket: 'tcp://127.0.0.1:10042', socketMode: 0o600, allowShutdown: false });
    expect(comodojo.config.parse({ socketMode: '0660' }).socketMode).toBe(0o660);
  });
});
