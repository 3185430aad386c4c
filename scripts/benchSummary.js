#!/usr/bin/env node
// Turns bench/results/*.json (written by each benchmark through @patchbay/bench-kit) into one
// markdown table, printed and saved as bench/results/summary.md, plus all.json for comparisons.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = new URL('../bench/results/', import.meta.url).pathname;
const results = readdirSync(dir)
  .filter((f) => f.endsWith('.json') && f !== 'all.json')
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')))
  .sort((a, b) => a.bench.localeCompare(b.bench));
// A figure a bench could not take (NaN, written to JSON as null) is shown as such, not a crash.
const fmt = (v) => (v === undefined ? '' : v === null || Number.isNaN(v) ? 'n/a' : Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : Number(v.toPrecision(3)).toString());
const lines = ['| bench | metric | value | baseline | ratio | target |', '|---|---|---|---|---|---|'];
for (const r of results) {
  for (const f of r.figures) {
    const target = f.target ? `${f.target}${f.pass === undefined ? '' : f.pass ? ' ✓' : ' ✗'}` : '';
    lines.push(`| ${r.bench} | ${f.metric} | ${fmt(f.value)} ${f.unit} | ${f.baseline === undefined ? '' : `${fmt(f.baseline)} ${f.unit}`} | ${f.ratio === undefined ? '' : `${fmt(f.ratio)}×`} | ${target} |`);
  }
}
const machine = results[0]?.machine;
const footer = machine ? `\nMeasured on ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${results[0].date.slice(0, 10)}.` : '';
const table = lines.join('\n') + footer + '\n';
writeFileSync(join(dir, 'summary.md'), table);
writeFileSync(join(dir, 'all.json'), JSON.stringify(results, null, 2) + '\n');
console.log('\n' + table);
