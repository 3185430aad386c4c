#!/usr/bin/env node
// Sums every package's vitest JSON report into one closing line: "N passed, N failed".
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const workspaces = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces;
const dirs = workspaces.flatMap((pattern) =>
  pattern.endsWith('/*') ? readdirSync(join(root, pattern.slice(0, -2)), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(pattern.slice(0, -2), d.name)) : [pattern],
);
let passed = 0;
let failed = 0;
let skipped = 0;
const rows = [];
const files = dirs.flatMap((dir) => ['.vitest-results.json', '.vitest-faults-results.json'].map((name) => ({ dir: name.includes('faults') ? `${dir} (faults)` : dir, file: join(root, dir, name) })));
for (const { dir, file } of files) {
  if (!existsSync(file)) continue;
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  rows.push(`  ${dir}: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
}
console.log(rows.join('\n'));
console.log(`Tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
