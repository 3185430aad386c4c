import { defaultServerConditions, type UserConfig } from 'vite';

/**
 * Shared vitest settings: resolve workspace packages to their TypeScript sources
 * (the `@patchbay/source` export condition), so tests need no build step.
 */
export function sharedProjectConfig(overrides: { testTimeout?: number; include?: string[] } = {}): UserConfig & { test: Record<string, unknown> } {
  const conditions = ['@patchbay/source', ...defaultServerConditions];
  return {
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ['@patchbay/source'] } },
    test: {
      environment: 'node',
      // The JSON report lets `npm test` end with one summary line across every package.
      reporters: ['default', ['json', { outputFile: '.vitest-results.json' }]],
      include: overrides.include ?? ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: overrides.testTimeout ?? 20_000,
      hookTimeout: 20_000,
      pool: 'forks',
      maxWorkers: 2,
    },
  };
}
