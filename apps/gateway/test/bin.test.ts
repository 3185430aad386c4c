import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0)) await f();
});

describe('patchbay binary', () => {
  it('bin - the installed shim says how to build when dist is missing, and runs the built CLI with its arguments once it exists', async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    mkdirSync(join(dir.path, 'bin'));
    const shim = join(dir.path, 'bin', 'patchbay.js');
    copyFileSync(join(import.meta.dirname, '../bin/patchbay.js'), shim);
    const missing = await run(process.execPath, [shim, 'check', 'x.yaml']).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(missing?.code).toBe(1);
    expect(missing?.stderr).toMatch(/not built yet: run `npm run build`/);
    mkdirSync(join(dir.path, 'dist'));
    writeFileSync(join(dir.path, 'dist', 'cli.js'), 'console.log(JSON.stringify(process.argv.slice(2)));\n');
    const built = await run(process.execPath, [shim, 'check', 'x.yaml']);
    expect(JSON.parse(built.stdout)).toEqual(['check', 'x.yaml']);
  });
});
