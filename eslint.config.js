// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Adapters, drivers and third-party packages see only the core's public entry. */
const publicCoreOnly = {
  patterns: [
    { group: ['@patchbay/core/*'], message: "Import from '@patchbay/core' (its public entry) only." },
    { group: ['**/core/src/**', '**/packages/core/**'], message: "Import from '@patchbay/core' (its public entry) only." },
  ],
};

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.turbo/**', 'test/peers/**', 'test/artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'max-params': ['warn', 4],
    },
  },
  {
    // Plain Node scripts (bin shims, scripts/): Node's globals.
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' } },
  },
  {
    files: ['packages/adapter-*/**', 'packages/driver-*/**', 'packages/testing/**', 'packages/journal/**', 'apps/**'],
    rules: { 'no-restricted-imports': ['error', publicCoreOnly] },
  },
);
