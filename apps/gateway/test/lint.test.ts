import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { repoRoot } from '@patchbay/testing';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * The boundary lint (issue 12.3) is the repository's eslint.config.js; these cases lint small
 * sources as if they sat at the given repository paths, so the path patterns apply exactly as
 * they do to real files.
 */
describe('lint - architecture boundaries (12.3)', () => {
  let eslint: ESLint;
  beforeAll(() => {
    // The fixtures are text at paths that do not exist, which the type-aware rules cannot
    // type: those rules are checked on the real sources by `npm run lint`; here, the imports.
    eslint = new ESLint({
      cwd: repoRoot,
      overrideConfig: {
        files: ['**/*.ts'],
        languageOptions: { parserOptions: { projectService: false } },
        rules: { '@typescript-eslint/no-floating-promises': 'off', '@typescript-eslint/await-thenable': 'off', '@typescript-eslint/no-misused-promises': 'off' },
      },
    });
  });

  /** The `no-restricted-imports` messages `source` gets at `filePath` (a repository-relative path). */
  async function restricted(filePath: string, source: string): Promise<string[]> {
    const [result] = await eslint.lintText(source, { filePath: `${repoRoot}/${filePath}` });
    const messages = result?.messages ?? [];
    // A fixture that fails for another reason (a parse error) would make a pass meaningless.
    expect(messages.filter((m) => m.ruleId !== 'no-restricted-imports')).toEqual([]);
    return messages.map((m) => m.message);
  }

  const use = (specifier: string) => `import x from '${specifier}';\nexport const y = x;\n`;

  it('lint - (12.3) a test file that imports one adapter from another fails', async () => {
    const messages = await restricted('packages/adapter-jeedom/test/x.test.ts', use('@patchbay/adapter-tracim'));
    expect(messages).toEqual([expect.stringContaining('An adapter knows no other adapter')]);
    expect(await restricted('packages/adapter-comodojo/src/protocol/x.test.ts', use('@patchbay/adapter-domogik'))).toHaveLength(1);
    // The same by relative path into the other package.
    expect(await restricted('packages/adapter-jeedom/test/x.test.ts', use('../../adapter-tracim/src/index.js'))).toHaveLength(1);
  });

  it('lint - (12.3) an adapter that imports @patchbay/journal or a driver fails; its tests may bridge the sim driver only', async () => {
    expect(await restricted('packages/adapter-jeedom/src/x.ts', use('@patchbay/journal'))).toEqual([expect.stringContaining('not the journal')]);
    expect(await restricted('packages/adapter-example/src/adapter.ts', use('@patchbay/driver-sim'))).toHaveLength(1);
    expect(await restricted('packages/adapter-jeedom/test/x.test.ts', use('@patchbay/driver-serial'))).toHaveLength(1);
    expect(await restricted('packages/adapter-jeedom/test/x.test.ts', use('../../driver-serial/src/index.js'))).toHaveLength(1);
    expect(await restricted('packages/adapter-jeedom/test/x.test.ts', use('@patchbay/journal'))).toHaveLength(1);
    expect(await restricted('packages/adapter-jeedom/test/x.test.ts', use('@patchbay/driver-sim'))).toEqual([]);
  });

  it('lint - (12.3) a driver that imports an adapter fails', async () => {
    expect(await restricted('packages/driver-sim/src/x.ts', use('@patchbay/adapter-ws'))).toEqual([expect.stringContaining('A driver knows no host')]);
    expect(await restricted('packages/driver-serial/test/x.test.ts', use('../../adapter-jeedom/src/index.js'))).toHaveLength(1);
  });

  it('lint - (12.3) a relative dist/ import fails anywhere', async () => {
    for (const path of ['packages/adapter-jeedom/src/x.ts', 'packages/core/src/x.ts', 'apps/gateway/src/x.ts', 'bench/jeedom/src/x.ts', 'test/x.test.ts']) {
      expect(await restricted(path, use('../dist/index.js'))).toEqual([expect.stringContaining('relative dist/')]);
    }
    expect(await restricted('test/x.test.ts', use('../packages/core/dist/index.js'))).toHaveLength(1);
  });

  it('lint - (12.3) an ./internal entry is for bench/ and test/ only; a package uses its own internals by relative path', async () => {
    expect(await restricted('packages/adapter-jeedom/test/x.test.ts', use('@patchbay/adapter-comodojo/internal'))).not.toEqual([]);
    expect(await restricted('apps/gateway/src/x.ts', use('@patchbay/adapter-jeedom/internal'))).toEqual([expect.stringContaining('bench/ and test/ only')]);
    expect(await restricted('bench/jeedom/src/x.ts', use('@patchbay/adapter-jeedom/internal'))).toEqual([]);
    expect(await restricted('test/e2e/x.test.ts', use('@patchbay/adapter-comodojo/internal'))).toEqual([]);
    expect(await restricted('packages/adapter-jeedom/test/x.test.ts', use('../src/internal.js'))).toEqual([]);
  });

  it('lint - (12.3) the core\'s ./mock entry (its fakes) is for tests and bench only', async () => {
    for (const path of ['apps/gateway/src/x.ts', 'packages/core/src/x.ts', 'packages/adapter-jeedom/src/x.ts', 'packages/driver-sim/src/x.ts', 'packages/journal/src/x.ts']) {
      expect(await restricted(path, use('@patchbay/core/mock')), path).toEqual([expect.stringContaining('tests and bench only')]);
    }
    for (const path of ['packages/core/test/x.test.ts', 'packages/core/src/x.test.ts', 'packages/adapter-jeedom/test/x.test.ts', 'packages/driver-serial/test/x.test.ts', 'apps/gateway/test/x.test.ts', 'packages/journal/src/x.test.ts', 'packages/testing/src/x.ts', 'bench/core/src/x.ts', 'test/x.test.ts']) {
      expect(await restricted(path, use('@patchbay/core/mock')), path).toEqual([]);
    }
    // Letting ./mock through opens no other subpath of the core.
    expect(await restricted('packages/adapter-jeedom/test/x.test.ts', use('@patchbay/core/src/gateway.js'))).not.toEqual([]);
  });

  it('lint - (12.3) a clean adapter test passes: its own source, the core, the testing kit and the sim', async () => {
    const source = [
      "import { createGateway } from '@patchbay/core';",
      "import sim from '@patchbay/driver-sim';",
      "import { tempDir } from '@patchbay/testing';",
      "import jeedom from '../src/index.js';",
      "import { CommandSocket } from '../src/internal.js';",
      'export const all = [createGateway, sim, tempDir, jeedom, CommandSocket];',
      '',
    ].join('\n');
    expect(await restricted('packages/adapter-jeedom/test/x.test.ts', source)).toEqual([]);
  });
});

describe('lint - with type information (12.3)', () => {
  it('lint - a promise nobody awaits or catches in shipped sources fails, and the same line with void passes', async () => {
    const probe = join(repoRoot, 'packages/core/src', `lintProbe${process.pid}.ts`);
    writeFileSync(probe, 'export function probe(work: () => Promise<void>): void {\n  work();\n}\n');
    try {
      const eslint = new ESLint({ cwd: repoRoot });
      const [floating] = await eslint.lintFiles([probe]);
      expect(floating?.messages.map((m) => m.ruleId)).toEqual(['@typescript-eslint/no-floating-promises']);
      writeFileSync(probe, 'export function probe(work: () => Promise<void>): void {\n  void work();\n}\n');
      const [marked] = await new ESLint({ cwd: repoRoot }).lintFiles([probe]);
      expect(marked?.messages).toEqual([]);
    } finally {
      rmSync(probe, { force: true });
    }
  }, 60_000);
});
