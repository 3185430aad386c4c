import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { ESLint } from 'eslint';
import { repoRoot } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const script = join(repoRoot, 'scripts/newPackage.sh');

/** Every file under `dir`, relative to it, sorted. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

// The scaffold goes inside packages/ (a fresh name per run) so that its tsconfig reaches the
// repository's settings and @patchbay/core resolves exactly as for a real package; removed after.
describe('newPackage - scaffolds the one package shape (12.4)', () => {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function scaffold(kind: 'adapter' | 'driver'): Promise<{ dir: string; name: string }> {
    const name = `scaffold-${kind}-${Math.random().toString(36).slice(2, 8)}`;
    const dir = join(repoRoot, 'packages', `${kind}-${name}`);
    made.push(dir);
    await run('bash', [script, kind, name, '--description', 'A scaffold under test']);
    return { dir, name };
  }

  /** Type checks and lints the package the way its own scripts do; resolves with the lint messages. */
  async function check(dir: string): Promise<string[]> {
    await run(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json'), '--noEmit']);
    const results = await new ESLint({ cwd: repoRoot }).lintFiles([dir]);
    return results.flatMap((r) => r.messages.map((m) => `${relative(dir, r.filePath)}: ${m.ruleId ?? ''} ${m.message}`));
  }

  it('newPackage - (12.4) an adapter: definition-only index, config, adapter, ./internal, a conformance test; it type checks and lints clean', async () => {
    const { dir, name } = await scaffold('adapter');
    expect(files(dir)).toEqual(['README.md', 'package.json', 'src/adapter.ts', 'src/config.ts', 'src/index.ts', 'src/internal.ts', 'test/conformance.test.ts', 'tsconfig.build.json', 'tsconfig.json', 'vitest.config.ts']);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; exports: Record<string, Record<string, string>> };
    expect(manifest.name).toBe(`@patchbay/adapter-${name}`);
    // The same export conditions as every other package: source for tests, dist when built.
    for (const entry of ['.', './internal']) expect(Object.keys(manifest.exports[entry] ?? {})).toEqual(['@patchbay/source', 'types', 'default']);
    expect(readFileSync(join(dir, 'test/conformance.test.ts'), 'utf8')).toContain('describeHostAdapterConformance');
    expect(readFileSync(join(dir, 'src/index.ts'), 'utf8')).toContain(`type: '${name}'`);
    expect(await check(dir)).toEqual([]);
  }, 180_000);

  it('newPackage - (12.4) a driver: the same shape with driver.ts and a passing test; it type checks and lints clean', async () => {
    const { dir } = await scaffold('driver');
    expect(files(dir)).toEqual(['README.md', 'package.json', 'src/config.ts', 'src/driver.ts', 'src/index.ts', 'src/internal.ts', 'test/driver.test.ts', 'tsconfig.build.json', 'tsconfig.json', 'vitest.config.ts']);
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))).toMatchObject({ exports: { '.': {}, './internal': {} } });
    expect(await check(dir)).toEqual([]);
  }, 180_000);

  it('newPackage - (12.4) refuses an unknown kind, a name that is not kebab-case, and an existing directory, writing nothing', async () => {
    await expect(run('bash', [script, 'thing', 'x'])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("'adapter' or 'driver'") });
    await expect(run('bash', [script, 'adapter', 'My_Host'])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('lower-case words') });
    expect(existsSync(join(repoRoot, 'packages/adapter-My_Host'))).toBe(false);
    const { dir, name } = await scaffold('adapter');
    const before = readFileSync(join(dir, 'src/index.ts'), 'utf8');
    await expect(run('bash', [script, 'adapter', name])).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('already exists') });
    expect(readFileSync(join(dir, 'src/index.ts'), 'utf8')).toBe(before);
  }, 60_000);
});
