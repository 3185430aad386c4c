#!/usr/bin/env node
// `npm test`: runs turbo with --continue (one failing task must not stop the others), then sums
// every package's vitest JSON report into one closing line, "N passed, N failed", naming what
// failed. A task that failed without failing tests (typecheck, lint, a crashed runner) counts
// as one failure, so the closing line never reads 0 failed for a red run.
// Usage: node scripts/testSummary.js [turbo tasks and flags...]   (none: only summarise the reports)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const workspaces = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces;
const dirs = workspaces.flatMap((pattern) =>
  pattern.endsWith('/*') ? readdirSync(join(root, pattern.slice(0, -2)), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(pattern.slice(0, -2), d.name)) : [pattern],
);
const reports = dirs.flatMap((dir) => ['.vitest-results.json', '.vitest-faults-results.json'].map((name) => ({ dir, label: name.includes('faults') ? `${dir} (faults)` : dir, faults: name.includes('faults'), file: join(root, dir, name) })));

const turboArgs = process.argv.slice(2);
let failedTasks = [];
let turboStatus = 0;
if (turboArgs.length > 0) {
  // Reports of an earlier run must not stand in for a runner that crashed this time.
  const faults = turboArgs.includes('test:faults');
  for (const r of reports) if (r.faults === faults) rmSync(r.file, { force: true });
  const runs = join(root, '.turbo', 'runs');
  const started = Date.now();
  const result = spawnSync('npx', ['turbo', 'run', ...turboArgs, '--continue', '--summarize'], { cwd: root, stdio: 'inherit' });
  turboStatus = result.status ?? 1;
  const summaries = existsSync(runs)
    ? readdirSync(runs)
        .map((f) => join(runs, f))
        .filter((f) => f.endsWith('.json') && statSync(f).mtimeMs >= started)
        .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
    : [];
  if (summaries[0]) {
    const summary = JSON.parse(readFileSync(summaries[0], 'utf8'));
    failedTasks = summary.tasks.filter((t) => t.execution && t.execution.exitCode !== 0 && t.execution.exitCode !== undefined).map((t) => ({ id: t.taskId, dir: t.directory, task: t.task }));
  } else if (turboStatus !== 0) {
    failedTasks = [{ id: `turbo run ${turboArgs.join(' ')} (exit ${turboStatus})`, dir: '', task: '' }];
  }
}

let passed = 0;
let failed = 0;
let skipped = 0;
const rows = [];
const failingDirs = new Set();
for (const { dir, label, file } of reports) {
  if (!existsSync(file)) continue;
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  if (r.numFailedTests > 0) failingDirs.add(dir);
  rows.push(`  ${label}: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
  for (const suite of r.testResults ?? []) {
    for (const test of suite.assertionResults ?? []) if (test.status === 'failed') rows.push(`    failed: ${test.fullName ?? test.title}`);
  }
}
// A failed task whose failures are not already counted as failed tests is one failure of its own.
const uncounted = failedTasks.filter((t) => !(t.task.startsWith('test') && failingDirs.has(t.dir)));
failed += uncounted.length;
console.log(rows.join('\n'));
if (failedTasks.length > 0) console.log(`Failed tasks: ${failedTasks.map((t) => t.id).join(', ')}`);
console.log(`Tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || turboStatus !== 0 ? 1 : 0);
