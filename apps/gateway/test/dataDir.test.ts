import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnPatchbay, tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { dataDirError } from '../src/config/dataDir.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** Runs `patchbay run …` to its exit; what it printed and its code. */
async function runToExit(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | string; output: string; logged: string }> {
  const proc = spawnPatchbay(['run', ...args], { env });
  cleanups.push(() => proc.stop());
  const code = await proc.exited;
  return { code, output: proc.stderr(), logged: proc.lines.map((l) => String(l.msg)).join('\n') };
}

describe('data directory that cannot be written (13.2)', () => {
  it('cli - the embedded default on an unusable data directory: one line naming it, the reason and how to move it; exit 1, no stack', async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const file = join(dir.path, 'not-a-dir');
    writeFileSync(file, '');
    const { code, output } = await runToExit(['--port', '0', '--data-dir', join(file, 'data')], { PATCHBAY_CONFIG: '' });
    expect(code).toBe(1);
    expect(output.trim().split('\n')).toEqual([`the data directory ${join(file, 'data')} cannot be written: a part of its path is a file, not a directory (ENOTDIR); set gateway.dataDir, --data-dir or PATCHBAY_DATA_DIR to a writable directory`]);
  });

  it('cli - a config file whose dataDir cannot be written: the same one line, before anything listens', async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const file = join(dir.path, 'not-a-dir');
    writeFileSync(file, '');
    const config = join(dir.path, 'patchbay.yaml');
    writeFileSync(config, stringify({ gateway: { dataDir: join(file, 'data'), http: { port: 0 } }, devices: [{ id: 't', driver: 'sim' }], hosts: [{ id: 'w', adapter: 'ws' }] }));
    const { code, output, logged } = await runToExit(['--config', config]);
    expect(code).toBe(1);
    expect(output).toMatch(/^patchbay: the data directory .*not-a-dir\/data cannot be written: a part of its path is a file, not a directory \(ENOTDIR\)/);
    expect(output).not.toMatch(/\n\s+at /);
    expect(logged).not.toMatch(/listening/);
  });

  it('cli - a read-only file system is named as such, not as the ENOENT a recursive mkdir reports there', () => {
    const error = Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' });
    expect(dataDirError('/mnt/ro/data', error).message).toBe('the data directory /mnt/ro/data cannot be written: it is on a read-only file system (EROFS); set gateway.dataDir, --data-dir or PATCHBAY_DATA_DIR to a writable directory');
  });
});
