/**
 * @patchbay/bench-kit: what every benchmark shares: percentiles, a common report format
 * (figures, then the ratio to the raw baseline on the last line) and the JSON results file
 * that `npm run bench` turns into a summary table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One measured figure. `baseline` is the raw figure of the same shape measured in the same run. */
export interface Figure {
  metric: string;
  value: number;
  unit: string;
  baseline?: number;
  /** value / baseline (or baseline / value for latencies, so that higher is always better). */
  ratio?: number;
  /** The target from PERFORMANCE.md or the issue, as text (`>= 0.8x`, `p99 <= 2 ms`). */
  target?: string;
  /** Whether the target holds, when there is one. */
  pass?: boolean;
  note?: string;
}

/** A benchmark's result file. */
export interface BenchResult {
  bench: string;
  date: string;
  machine: { cpu: string; cores: number; memoryGiB: number; node: string };
  figures: Figure[];
  /** The headline ratio printed on the last line. */
  ratio: number;
  ratioLabel: string;
}

const resultsDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../results');

/** The value at percentile `p` (0..100) of an ascending-sorted array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

/** Median of several runs (a copy is sorted). */
export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

/** High-resolution now in milliseconds. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Formats a number for people: 1234567 → "1,234,567", 0.01234 → "0.0123". */
export function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(3)).toString();
}

/**
 * Prints every figure, writes `bench/results/<bench>.json`, and prints the headline ratio on
 * the last line as `<bench>: ratio <x> (<label>)`.
 */
export function report(bench: string, figures: Figure[], headline: { ratio: number; label: string }): BenchResult {
  const result: BenchResult = {
    bench,
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    figures,
    ratio: headline.ratio,
    ratioLabel: headline.label,
  };
  for (const f of figures) {
    const base = f.baseline !== undefined ? `  baseline ${fmt(f.baseline)} ${f.unit}` : '';
    const ratio = f.ratio !== undefined ? `  ratio ${fmt(f.ratio)}x` : '';
    const target = f.target ? `  target ${f.target}${f.pass === undefined ? '' : f.pass ? ' (met)' : ' (NOT met)'}` : '';
    const note = f.note ? `  -- ${f.note}` : '';
    console.log(`${bench}: ${f.metric} = ${fmt(f.value)} ${f.unit}${base}${ratio}${target}${note}`);
  }
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, `${bench}.json`), JSON.stringify(result, null, 2) + '\n');
  console.log(`${bench}: ratio ${fmt(headline.ratio)}x (${headline.label})`);
  return result;
}
