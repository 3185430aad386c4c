/** One point of the sweep on one side (a before/after of one change): `--devices N --clients K --side gateway|raw --seconds S [--cpu-prof DIR]`. */
import { fmt } from '@patchbay/bench-kit';
import { runPoint, type Side } from './point.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const at = args.indexOf(name);
  return at >= 0 ? (args[at + 1] ?? fallback) : fallback;
};
const shape = { devices: Number(arg('--devices', '1000')), clients: Number(arg('--clients', '10')), rate: Number(arg('--rate', '10000')) };
const profDir = args.includes('--cpu-prof') ? arg('--cpu-prof', '') : undefined;
const r = await runPoint(arg('--side', 'gateway') as Side, shape, { seconds: Number(arg('--seconds', '3')), ...(profDir ? { cpuProfDir: profDir, cpuProfName: `one-N${shape.devices}-K${shape.clients}.cpuprofile` } : {}) });
console.log(`one: N=${shape.devices} K=${shape.clients} ${r.side}: ${fmt(r.valuesPerS)} values/s in, CPU ${fmt(r.cpuUsPerValue)} µs/value, ${fmt(r.cpuPercent)} % core, RSS ${fmt(r.rssMb)} MB, start-up ${fmt(r.startupMs)} ms, ${r.wsDropped} of ${shape.clients} ws clients dropped`);
for (const h of r.hosts) console.log(`one:   ${h.host}: ${h.values} values, p50/p99/p99.9 ${fmt(h.p50)}/${fmt(h.p99)}/${fmt(h.p999)} ms (${h.latencyLowerBounds} lower bounds), RTT p99 ${fmt(h.rttP99)} ms, ${h.unanswered}/${h.commands} unanswered`);
