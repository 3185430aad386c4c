import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { createGateway } from '@patchbay/core';
import { captureLogger, FakeDriver, tempDir } from '@patchbay/testing';
import { describe, expect, it } from 'vitest';
import tracimAdapter, { tracimConfig } from '../src/index.js';
import { expandHome } from '../src/internal.js';

describe('tracim - options', () => {
  it('tracim - defaults follow the reference daemon: master mode, ~/.config/TracimDaemon/master.sock, 30 s pings, 0600', () => {
    const config = tracimConfig.parse({});
    expect(config).toMatchObject({ mode: 'master', socketPath: '~/.config/TracimDaemon/master.sock', pingInterval: 30_000, socketMode: 0o600, sizePolicy: 'shrink', userId: '0' });
    expect(expandHome(config.socketPath)).toBe(join(homedir(), '.config/TracimDaemon/master.sock'));
  });

  it('tracim - relative socket paths are made absolute, octal mode strings are read, bad values are named', () => {
    expect(expandHome('data/tracim.sock')).toBe(resolve('data/tracim.sock'));
    expect(tracimConfig.parse({ socketMode: '0660' }).socketMode).toBe(0o660);
    const result = tracimConfig.safeParse({ socketPath: '/' + 'x'.repeat(120), pingInterval: 'often', tracim: { url: 'http://h/api', password: 'p' } });
    expect(result.success).toBe(false);
    const paths = result.error?.issues.map((i) => i.path.join('.')) ?? [];
    expect(paths).toEqual(expect.arrayContaining(['socketPath', 'pingInterval', 'tracim']));
  });

  it('tracim - the embedded default (master under the data directory) starts alive with no client and no Tracim', async () => {
    const dir = tempDir('pb-tracim-default-');
    try {
      const driver = new FakeDriver();
      const gateway = createGateway({ devices: [{ id: 'dev1', definition: driver.definition }], hosts: [{ id: 'tracim', definition: tracimAdapter, options: { socketPath: join(dir.path, 'tracim', 'master.sock') } }] });
      await gateway.start();
      await driver.waitRunning();
      driver.emit('temperature', 20);
      expect(gateway.health().hosts[0]).toMatchObject({ status: 'alive', failed: 0 });
      await gateway.stop({ drainTimeoutMs: 100 });
    } finally {
      dir.remove();
    }
  });

  it('tracim - 12.4 "maxQueue" is now "maxQueuedPerClient"; the old name still works, with a deprecation warning at start', async () => {
    expect(tracimConfig.parse({}).maxQueuedPerClient).toBe(10_000);
    expect(tracimConfig.parse({ maxQueue: 50 })).toMatchObject({ maxQueuedPerClient: 50, deprecated: [expect.stringMatching(/"maxQueue" is deprecated: it is now "maxQueuedPerClient"/)] });
    expect(tracimConfig.parse({ maxQueue: 50, maxQueuedPerClient: 70 })).toMatchObject({ maxQueuedPerClient: 70, deprecated: [expect.stringMatching(/ignored/)] });
    expect(tracimConfig.parse({ maxQueuedPerClient: 70 }).deprecated).toEqual([]);
    const dir = tempDir('pb-tracim-deprecated-');
    const logger = captureLogger();
    try {
      const gateway = createGateway({ devices: [], hosts: [{ id: 'tracim', definition: tracimAdapter, options: { socketPath: join(dir.path, 'm.sock'), maxQueue: 50 } }], logger });
      await gateway.start();
      expect(logger.find(/"maxQueue" is deprecated/, 'warn')).toHaveLength(1);
      await gateway.stop({ drainTimeoutMs: 100 });
    } finally {
      dir.remove();
    }
  });
});
