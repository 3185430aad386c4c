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
      // Backstops only (waits end on their events): a loaded 2-core machine can be ten times slower.
      testTimeout: overrides.testTimeout ?? 60_000,
      hookTimeout: 60_000,
      pool: 'forks',
      maxWorkers: 2,
    },
  };
}
