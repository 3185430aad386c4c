// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The boundary lint (ARCHITECTURE.md "Seams", issue 12.3). ESLint applies the LAST matching
 * config's `no-restricted-imports` whole, not merged, so each file group below gets one
 * combined list built from these pieces.
 */
const coreMessage = "Import from '@patchbay/core' (its public entry) only.";
/** Adapters, drivers and third-party packages see only the core's public entry (and, in tests, its fakes: `noMock`). */
const publicCore = [
  { group: ['@patchbay/core/*', '!@patchbay/core/mock'], message: coreMessage },
  { group: ['**/core/src/**', '**/packages/core/**'], message: coreMessage },
];
/** Nobody imports a built file by relative path: it is stale until the next build, and skips the exports map. */
const noRelativeDist = [{ regex: '^\\.{1,2}/(.*/)?dist(/|$)', message: "A relative dist/ import reads a stale build: import the package by name." }];
/** `./internal` entries carry codecs and transports for bench/ and test/ only (a package's own tests use theirs by relative path). */
const noInternal = [{ regex: '^@patchbay/[^/]+/internal$', message: 'A package\'s ./internal entry is for bench/ and test/ only.' }];
/**
 * A `./mock` entry (the core's fakes: a fake host and driver, an in-memory journal) is for tests
 * and bench only: any package's tests, bench/ and test/, and @patchbay/testing, the kit that
 * re-exports them. Shipped sources never see it.
 */
const noMock = [{ regex: '^@patchbay/[^/]+/mock$', message: "A package's ./mock entry (test doubles) is for tests and bench only." }];
const adapterMessage = 'An adapter knows no other adapter, no driver and not the journal: it sees the core only (ARCHITECTURE.md "The one idea").';
/** What an adapter's source must not import. */
const notFromAdapterSrc = [
  { regex: '^@patchbay/(adapter-|driver-|journal)', message: adapterMessage },
  { regex: '^(\\.\\./)+(packages/)?(adapter-|driver-|journal)', message: adapterMessage },
];
/**
 * An adapter's tests: the same, except `@patchbay/driver-sim`, the reference device every
 * host adapter's end-to-end tests bridge (the conformance suite's own fakes come from
 * @patchbay/testing). Tests that need a second adapter or a real driver go to test/.
 */
const notFromAdapterTest = [
  { regex: '^@patchbay/(adapter-|journal|driver-(?!sim$))', message: `${adapterMessage} Tests that need another adapter or a real driver belong in test/.` },
  notFromAdapterSrc[1],
];
const driverMessage = 'A driver knows no host: it never imports an adapter (ARCHITECTURE.md "The one idea").';
const notFromDriver = [
  { regex: '^@patchbay/adapter-', message: driverMessage },
  { regex: '^(\\.\\./)+(packages/)?adapter-', message: driverMessage },
];

/** A `no-restricted-imports` setting from pattern lists. */
const restrict = (...lists) => ['error', { patterns: lists.flat() }];

const adapterTests = ['packages/adapter-*/test/**', 'packages/adapter-*/src/**/*.test.ts'];
const driverTests = ['packages/driver-*/test/**', 'packages/driver-*/src/**/*.test.ts'];
/** The tests of the app, the journal and the integrations, which may use the core's fakes. */
const appTests = ['apps/*/test/**', 'apps/*/src/**/*.test.ts', 'packages/journal/test/**', 'packages/journal/src/**/*.test.ts', 'integrations/test/**'];
const coreTests = ['packages/core/test/**', 'packages/core/src/**/*.test.ts'];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/.turbo/**', 'test/peers/**', 'test/artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // STYLE.md "Options objects instead of long parameter lists" (tRPC's max-params, issue 12.3).
      'max-params': ['error', 3],
      // Everywhere else (bench/, test/, integrations/, scripts): only the dist/ rule.
      'no-restricted-imports': restrict(noRelativeDist),
    },
  },
  {
    // Plain Node scripts (bin shims, scripts/): Node's globals.
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' } },
  },
  {
    files: ['packages/testing/**'],
    rules: { 'no-restricted-imports': restrict(publicCore, noRelativeDist, noInternal) },
  },
  {
    files: ['packages/journal/**', 'apps/**', 'integrations/**'],
    rules: { 'no-restricted-imports': restrict(publicCore, noRelativeDist, noInternal, noMock) },
  },
  {
    files: appTests,
    rules: { 'no-restricted-imports': restrict(publicCore, noRelativeDist, noInternal) },
  },
  {
    files: ['packages/core/**'],
    rules: { 'no-restricted-imports': restrict(noRelativeDist, noInternal, noMock) },
  },
  {
    files: coreTests,
    rules: { 'no-restricted-imports': restrict(noRelativeDist, noInternal) },
  },
  {
    files: ['packages/adapter-*/**'],
    rules: { 'no-restricted-imports': restrict(publicCore, noRelativeDist, noInternal, noMock, notFromAdapterSrc) },
  },
  {
    files: adapterTests,
    rules: { 'no-restricted-imports': restrict(publicCore, noRelativeDist, noInternal, notFromAdapterTest) },
  },
  {
    files: ['packages/driver-*/**'],
    rules: { 'no-restricted-imports': restrict(publicCore, noRelativeDist, noInternal, noMock, notFromDriver) },
  },
  {
    files: driverTests,
    rules: { 'no-restricted-imports': restrict(publicCore, noRelativeDist, noInternal, notFromDriver) },
  },
  {
    // Type-aware rules (typescript-eslint's type-checked set, the rules that catch real bugs
    // here): a promise nobody awaits or catches, awaiting a non-promise, a promise where a
    // callback's return is ignored. On the shipped sources; tests await by construction.
    files: ['packages/*/src/**/*.ts', 'apps/*/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
    },
  },
);
