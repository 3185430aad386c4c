/**
 * Cost as the work grows (issue 20): the gateway as built, with N sim devices reporting a
 * fixed total of values per second into the five built-in hosts and K ws clients, each point
 * beside a raw loop of the same transports in the same run. Quick subset by default
 * (N 10/100/1,000, K 1/10); `--full` sweeps N to 10,000, K to 100 and the rate at N = 1,000.
 * `--seconds S` sets the window of a point, `--no-profile` skips the profile.
 * Writes SVG curves and a table into bench/results/, prints the issue's targets with their
 * verdicts, and profiles the worst point (`--cpu-prof`) to say what holds it back.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, report, type Figure } from '@patchbay/bench-kit';
import { repoRoot } from '@patchbay/testing';
import { HOSTS } from './hosts.js';
import { runPoint, type PointResult } from './point.js';
import { hotSpots } from './profile.js';
import { lineChart, palette } from './svg.js';
import type { PointShape } from './wire.js';

const args = process.argv.slice(2);
const full = args.includes('--full');
const noProfile = args.includes('--no-profile');
const secondsArg = args.indexOf('--seconds');
const seconds = secondsArg >= 0 ? Number(args[secondsArg + 1]) : full ? 5 : args.includes('--smoke') ? 1 : 3;
const RATE = 10_000;
const results = resolve(dirname(fileURLToPath(import.meta.url)), '../../results');
/**
 * Hosts whose protocol itself caps the rate: Jeedom in immediate mode posts one change per
 * HTTP request, in order; Tracim opens one Unix connection per message (the SDK's backlog-1
 * listener); Comodojo is pull-only. Their figures are printed with their ratio to the raw
 * loop doing the same, but the 5 ms / 20 ms verdict is for the others (issue 20).
 */
const rateLimited = new Set(['jeedom', 'tracim', 'comodojo']);

/** `--smoke`: two points of 1 s, to check the bench itself runs end to end. */
const smoke = args.includes('--smoke');
const shapes: PointShape[] = [];
const sweepN = smoke ? [10, 100] : full ? [10, 100, 1000, 10_000] : [10, 100, 1000];
const sweepK = smoke ? [10] : full ? [1, 10, 100] : [1, 10];
for (const devices of sweepN) for (const clients of sweepK) shapes.push({ devices, clients, rate: RATE });
if (full) for (const rate of [1000, 2000, 5000, 20_000]) shapes.push({ devices: 1000, clients: 10, rate });

// The gateway as built, as `npm start` builds it (cached after the first time).
console.log('scale: building the gateway (turbo, cached)...');
execFileSync('npx', ['turbo', 'run', 'build', '--filter=@patchbay/gateway...', '--output-logs=errors-only'], { cwd: repoRoot, stdio: 'inherit' });

const label = (s: PointShape) => `N=${s.devices} K=${s.clients}${s.rate === RATE ? '' : ` rate=${s.rate}`}`;
const points: { shape: PointShape; gateway: PointResult; raw: PointResult }[] = [];
const failures: string[] = [];
const started = Date.now();
for (const shape of shapes) {
  let raw: PointResult;
  let gateway: PointResult;
  try {
    raw = await runPoint('raw', shape, { seconds });
    gateway = await runPoint('gateway', shape, { seconds });
  } catch (error) {
    // One failed point (N = 10,000 with 100 ws clients: the upgrades answered 400) must not lose the run.
    failures.push(`${label(shape)}: ${(error as Error).message.split('\n')[0]}`);
    console.log(`scale: ${label(shape)} failed: ${(error as Error).message.split('\n').slice(0, 2).join(' ')}`);
    continue;
  }
  points.push({ shape, gateway, raw });
  const worst = worstPushP99(gateway);
  console.log(
    `scale: N=${shape.devices} K=${shape.clients} rate=${shape.rate}: ${fmt(gateway.valuesPerS)} values/s in, CPU ${fmt(gateway.cpuUsPerValue)} µs/value (raw ${fmt(raw.cpuUsPerValue)}), ${fmt(gateway.cpuPercent)} % of a core, RSS ${fmt(gateway.rssMb)} MB, p99 ${fmt(worst.p99)} ms at ${worst.host} (raw ${fmt(worstPushP99(raw).p99)}), start-up ${fmt(gateway.startupMs)} ms, ${gateway.wsDropped} of ${shape.clients} ws clients dropped`,
  );
}

/** A note for a latency with values ingested before the clients connected. */
function lowerBound(h: { latencyLowerBounds: number; values: number }): string {
  return h.latencyLowerBounds > 0 ? `; ${h.latencyLowerBounds} of ${h.values} values were ingested before the clients connected (counted from then: lower bounds)` : '';
}

function worstPushP99(r: PointResult): { host: string; p99: number; p999: number } {
  let worst = { host: '-', p99: Number.NaN, p999: Number.NaN };
  for (const h of r.hosts) if (!rateLimited.has(h.host) && !(h.p99 <= worst.p99)) worst = { host: h.host, p99: h.p99, p999: h.p999 };
  return worst;
}

const atRate = points.filter((p) => p.shape.rate === RATE);
const ks = [...new Set(atRate.map((p) => p.shape.clients))];
const ns = [...new Set(atRate.map((p) => p.shape.devices))];
const machine = `${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores shared with other sessions (load average ${fmt(loadavg()[0] ?? Number.NaN)}), Node ${process.version}, ${new Date().toISOString().slice(0, 16)}Z, ${full ? 'full' : 'quick'} run`;

// Figures: per point the headline ones, with the raw baseline and ratio (higher is better).
const figures: Figure[] = [];
for (const { shape, gateway, raw } of points) {
  const w = worstPushP99(gateway);
  const rw = worstPushP99(raw);
  figures.push({ metric: `${label(shape)} CPU per value`, value: gateway.cpuUsPerValue, unit: 'µs', baseline: raw.cpuUsPerValue, ratio: raw.cpuUsPerValue / gateway.cpuUsPerValue, note: `${fmt(gateway.cpuPercent)} % of one core at ${fmt(gateway.valuesPerS)} values/s in` });
  const rssTarget = 80 + (4 * shape.devices) / 1024;
  figures.push({ metric: `${label(shape)} RSS`, value: gateway.rssMb, unit: 'MB', baseline: raw.rssMb, ratio: raw.rssMb / gateway.rssMb, target: `<= ${fmt(rssTarget)} MB`, pass: gateway.rssMb <= rssTarget });
  figures.push({ metric: `${label(shape)} p99 ingest->host, worst push host (${w.host})`, value: w.p99, unit: 'ms', baseline: rw.p99, ratio: rw.p99 / w.p99 });
}
// Verdicts against the issue's targets.
for (const k of ks) {
  const row = atRate.filter((p) => p.shape.clients === k).sort((a, b) => a.shape.devices - b.shape.devices);
  const first = row[0];
  if (!first) continue;
  for (const p of row.slice(1)) {
    const growth = p.gateway.cpuUsPerValue / first.gateway.cpuUsPerValue;
    const rawGrowth = p.raw.cpuUsPerValue / first.raw.cpuUsPerValue;
    figures.push({ metric: `CPU per value N=${p.shape.devices} / N=${first.shape.devices}, K=${k}`, value: growth, unit: 'x', baseline: rawGrowth, target: '<= 1.5x', pass: growth <= 1.5, note: 'baseline: the raw loop’s own growth' });
  }
}
const target = atRate.find((p) => p.shape.clients === 10 && p.shape.devices === Math.max(...ns));
const verdictPoints = atRate.filter((p) => p.shape.clients === 10);
for (const p of verdictPoints) {
  for (const h of p.gateway.hosts) {
    const raw = p.raw.hosts.find((r) => r.host === h.host);
    figures.push({ metric: `N=${p.shape.devices} K=10 ${h.host} command round trip p99`, value: h.rttP99, unit: 'ms', baseline: raw?.rttP99, ratio: (raw?.rttP99 ?? Number.NaN) / h.rttP99, note: `${h.unanswered} of ${h.commands} unanswered 2 s after the window${h.unanswered > 0 ? ' (counted as 2 s: a lower bound)' : ''}` });
    if (h.host === 'comodojo') continue;
    if (rateLimited.has(h.host)) {
      figures.push({ metric: `N=${p.shape.devices} K=10 ${h.host} p99 ingest->host`, value: h.p99, unit: 'ms', baseline: raw?.p99, ratio: (raw?.p99 ?? Number.NaN) / h.p99, note: `one ${h.host === 'jeedom' ? 'POST' : 'connection'} per change, in order: rate-limited by its protocol; ${fmt(h.values / seconds)} values/s delivered (raw ${fmt((raw?.values ?? 0) / seconds)})${lowerBound(h)}` });
      continue;
    }
    figures.push({ metric: `N=${p.shape.devices} K=10 ${h.host} p99 ingest->host`, value: h.p99, unit: 'ms', baseline: raw?.p99, ratio: (raw?.p99 ?? Number.NaN) / h.p99, target: '<= 5 ms', pass: h.p99 <= 5, ...(h.latencyLowerBounds > 0 ? { note: lowerBound(h).slice(2) } : {}) });
    figures.push({ metric: `N=${p.shape.devices} K=10 ${h.host} p99.9 ingest->host`, value: h.p999, unit: 'ms', baseline: raw?.p999, ratio: (raw?.p999 ?? Number.NaN) / h.p999, target: '<= 20 ms', pass: h.p999 <= 20 });
  }
  figures.push({ metric: `N=${p.shape.devices} K=10 gateway CPU`, value: p.gateway.cpuPercent, unit: '% of one core', baseline: p.raw.cpuPercent, ratio: p.raw.cpuPercent / p.gateway.cpuPercent, target: '< 100 %', pass: p.gateway.cpuPercent < 100 });
}
const biggest = atRate.filter((p) => p.shape.devices === Math.max(...ns));
for (const p of biggest.slice(0, 1)) {
  figures.push({ metric: `start-up to /healthz 200, N=${p.shape.devices}`, value: p.gateway.startupMs, unit: 'ms', baseline: p.raw.startupMs, ratio: p.raw.startupMs / p.gateway.startupMs, ...(p.shape.devices >= 10_000 ? { target: '<= 2,000 ms', pass: p.gateway.startupMs <= 2000 } : { note: 'the 2 s target is at N = 10,000 (--full)' }) });
  figures.push({ metric: `journal bytes per value, N=${p.shape.devices}`, value: p.gateway.journalBytesPerValue, unit: 'B', baseline: p.raw.journalBytesPerValue, ratio: p.raw.journalBytesPerValue / p.gateway.journalBytesPerValue, note: 'baseline: the same values as JSON lines; the 0.5x raw-append throughput target is bench/core’s' });
  figures.push({ metric: `ws health message, N=${p.shape.devices}`, value: p.gateway.healthBytesPerS, unit: 'B/s per client', note: 'whole-state health on a timer (issue 20.3)' });
}

// Charts.
mkdirSync(results, { recursive: true });
const note = `${machine}; dashed: the raw loop of the same transports, measured beside each point in the same run`;
const byK = (k: number, side: 'gateway' | 'raw', pick: (r: PointResult) => number) =>
  atRate
    .filter((p) => p.shape.clients === k)
    .map((p) => [p.shape.devices, pick(p[side])] as [number, number]);
writeFileSync(
  join(results, 'scale-cpu-per-value.svg'),
  lineChart({
    title: `CPU per value vs devices (${fmt(RATE)} values/s in, 5 hosts)`,
    xLabel: 'devices (N)',
    yLabel: 'CPU µs per value',
    logX: true,
    note,
    series: ks.flatMap((k, i) => [
      { name: `gateway K=${k}`, points: byK(k, 'gateway', (r) => r.cpuUsPerValue), color: palette[i] as string },
      { name: `raw K=${k}`, points: byK(k, 'raw', (r) => r.cpuUsPerValue), color: palette[i] as string, dashed: true },
    ]),
  }),
);
const k10 = ks.includes(10) ? 10 : (ks[0] as number);
const pushHosts = HOSTS.filter((h) => h !== 'comodojo');
writeFileSync(
  join(results, 'scale-p99.svg'),
  lineChart({
    title: `p99 ingest->host vs devices (K=${k10} ws clients)`,
    xLabel: 'devices (N)',
    yLabel: 'p99 latency, ms',
    logX: true,
    logY: true,
    target: { y: 5, label: 'target 5 ms' },
    note: `${note}; jeedom (one POST per change) and tracim (one connection per change) are rate-limited by their protocol; a missing point: no value of the window arrived`,
    series: pushHosts.flatMap((h, i) => [
      { name: `${h}`, points: byK(k10, 'gateway', (r) => r.hosts.find((x) => x.host === h)?.p99 ?? Number.NaN), color: palette[i] as string },
      { name: `raw ${h}`, points: byK(k10, 'raw', (r) => r.hosts.find((x) => x.host === h)?.p99 ?? Number.NaN), color: palette[i] as string, dashed: true },
    ]),
  }),
);
writeFileSync(
  join(results, 'scale-rss.svg'),
  lineChart({
    title: 'Gateway RSS vs devices',
    xLabel: 'devices (N)',
    yLabel: 'RSS, MB',
    logX: true,
    note,
    series: [
      ...ks.map((k, i) => ({ name: `gateway K=${k}`, points: byK(k, 'gateway', (r) => r.rssMb), color: palette[i] as string })),
      { name: 'target 80 MB + 4 KB/device', points: ns.map((n) => [n, 80 + (4 * n) / 1024] as [number, number]), color: '#999', dashed: true },
    ],
  }),
);
writeFileSync(
  join(results, 'scale-startup.svg'),
  lineChart({
    title: 'Start-up to /healthz 200 vs devices',
    xLabel: 'devices (N)',
    yLabel: 'ms from spawn',
    logX: true,
    target: { y: 2000, label: 'target 2 s at 10,000' },
    note: `${note}; the raw loop binds the same listeners and serves /healthz`,
    series: ks.flatMap((k, i) => [
      { name: `gateway K=${k}`, points: byK(k, 'gateway', (r) => r.startupMs), color: palette[i] as string },
      { name: `raw K=${k}`, points: byK(k, 'raw', (r) => r.startupMs), color: palette[i] as string, dashed: true },
    ]),
  }),
);
const rateRow = points.filter((p) => p.shape.devices === 1000 && p.shape.clients === 10).sort((a, b) => a.shape.rate - b.shape.rate);
if (full && rateRow.length > 1) {
  writeFileSync(
    join(results, 'scale-rate.svg'),
    lineChart({
      title: 'CPU per value vs rate (N=1,000, K=10)',
      xLabel: 'values/s in (configured)',
      yLabel: 'CPU µs per value',
      logX: true,
      note,
      series: [
        { name: 'gateway', points: rateRow.map((p) => [p.shape.rate, p.gateway.cpuUsPerValue]), color: palette[0] as string },
        { name: 'raw', points: rateRow.map((p) => [p.shape.rate, p.raw.cpuUsPerValue]), color: palette[0] as string, dashed: true },
      ],
    }),
  );
}

// Every point, every host: a table for people who want the numbers behind the curves.
const md: string[] = [`# bench/scale, ${full ? 'full' : 'quick'} run`, '', `${machine}. ${seconds} s per point. Latency in ms (gateway / raw); CPU in µs per value reported.`, ''];
md.push('| point | values/s in | CPU µs/value | CPU % core | RSS MB | start-up ms | journal B/value | ' + HOSTS.filter((h) => h !== 'comodojo').map((h) => `${h} p50/p99/p99.9`).join(' | ') + ' | RTT p99 (j/t/d/c/w) | ws clients dropped |');
md.push('|---|---|---|---|---|---|---|' + HOSTS.filter((h) => h !== 'comodojo').map(() => '---|').join('') + '---|---|');
const lat = (r: PointResult, h: string) => {
  const x = r.hosts.find((y) => y.host === h);
  return x ? `${fmt(x.p50)}/${fmt(x.p99)}/${fmt(x.p999)}` : '';
};
for (const { shape, gateway: g, raw: r } of points) {
  md.push(
    `| ${label(shape)} | ${fmt(g.valuesPerS)} / ${fmt(r.valuesPerS)} | ${fmt(g.cpuUsPerValue)} / ${fmt(r.cpuUsPerValue)} | ${fmt(g.cpuPercent)} / ${fmt(r.cpuPercent)} | ${fmt(g.rssMb)} / ${fmt(r.rssMb)} | ${fmt(g.startupMs)} / ${fmt(r.startupMs)} | ${fmt(g.journalBytesPerValue)} / ${fmt(r.journalBytesPerValue)} | ` +
      HOSTS.filter((h) => h !== 'comodojo')
        .map((h) => `${lat(g, h)} / ${lat(r, h)}`)
        .join(' | ') +
      ` | ${g.hosts.map((h) => fmt(h.rttP99)).join('/')} | ${g.wsDropped} / ${r.wsDropped} |`,
  );
}

// What holds it back: a profile of the worst point (highest CPU per value at the rate).
if (!noProfile) {
  const worst = [...atRate].sort((a, b) => b.gateway.cpuUsPerValue / b.raw.cpuUsPerValue - a.gateway.cpuUsPerValue / a.raw.cpuUsPerValue)[0] ?? atRate[0];
  const worstP99 = [...atRate].sort((a, b) => (worstPushP99(b.gateway).p99 || 0) - (worstPushP99(a.gateway).p99 || 0))[0];
  const pick = full ? atRate.find((p) => p.shape.devices === 10_000 && p.shape.clients === 10) ?? worst : worstP99 ?? worst;
  if (pick) await profile(pick).catch((error: unknown) => console.log(`scale: the profile failed: ${(error as Error).message}`));
}

async function profile(pick: { shape: PointShape }): Promise<void> {
  const name = `scale-${full ? 'full' : 'quick'}-N${pick.shape.devices}-K${pick.shape.clients}.cpuprofile`;
  console.log(`scale: profiling ${label(pick.shape)} (--cpu-prof)...`);
  const tmp = join(results, '.prof');
  mkdirSync(tmp, { recursive: true });
  await runPoint('gateway', pick.shape, { seconds, cpuProfDir: tmp, cpuProfName: name });
  // Kept small for the repository: per-line ticks dropped (DevTools and speedscope still open it).
  const profile = JSON.parse(readFileSync(join(tmp, name), 'utf8')) as { nodes: { positionTicks?: unknown }[] };
  for (const node of profile.nodes) delete node.positionTicks;
  writeFileSync(join(results, name), JSON.stringify(profile));
  rmSync(tmp, { recursive: true, force: true });
  const { top, packages, callers } = hotSpots(join(results, name));
  md.push('', `## Where the time goes at ${label(pick.shape)} (self time, --cpu-prof of the built gateway: bench/results/${name})`, '', '| self % | function | where |', '|---|---|---|');
  for (const t of top) md.push(`| ${fmt(t.percent)} | ${t.fn} | ${t.where} |`);
  md.push('', '| self % | by package |', '|---|---|');
  for (const p of packages) md.push(`| ${fmt(p.percent)} | ${p.name} |`);
  md.push('', '| % | charged to the nearest Patchbay function above (native and library time included) |', '|---|---|');
  for (const c of callers) md.push(`| ${fmt(c.percent)} | ${c.name} |`);
  console.log(`scale: hot spots at ${label(pick.shape)} (self time):`);
  for (const t of top) console.log(`scale:   ${fmt(t.percent)} %  ${t.fn}  ${t.where}`);
  console.log(`scale: by package: ${packages.map((p) => `${p.name} ${fmt(p.percent)} %`).join(', ')}`);
  console.log('scale: charged to the nearest Patchbay function above:');
  for (const c of callers) console.log(`scale:   ${fmt(c.percent)} %  ${c.name}`);
}
if (failures.length > 0) md.push('', '## Points that failed', '', ...failures.map((f) => `- ${f}`));
writeFileSync(join(results, 'scale.md'), md.join('\n') + '\n');
console.log(`scale: ${points.length} points in ${fmt((Date.now() - started) / 1000)} s; charts and table in ${relative(repoRoot, results)}/scale-*.svg, scale.md`);

const cpuGrowth = figures.filter((f) => f.metric.startsWith('CPU per value N=')).reduce((m, f) => Math.max(m, f.value), 0);
// JSON has no NaN or Infinity (the summary table would choke on null): a figure with no value is printed only.
const written: Figure[] = [];
for (const f of figures) {
  if (!Number.isFinite(f.value)) {
    console.log(`scale: ${f.metric}: no value (nothing of the kind arrived in the window)`);
    continue;
  }
  if (f.baseline !== undefined && !Number.isFinite(f.baseline)) delete f.baseline;
  if (f.ratio !== undefined && !Number.isFinite(f.ratio)) delete f.ratio;
  written.push(f);
}
report('scale', written, { ratio: target ? target.raw.cpuUsPerValue / target.gateway.cpuUsPerValue : Number.NaN, label: `raw CPU per value / gateway's at N=${target?.shape.devices} K=10 (the worst CPU growth over N is ${fmt(cpuGrowth)}x)` });
