/**
 * Start-up alone, for a before/after of a start-up change: the built gateway with N devices and
 * the bench's five hosts, spawned `--runs` times, the time from spawn to `/healthz` 200 each
 * time. `--root DIR` runs another checkout's build (an old commit built in a second dir);
 * `--cpu-prof DIR` keeps a profile of each start.
 *
 *   node --conditions=@patchbay/source --import tsx src/startup.ts --devices 10000 --runs 3
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fmt } from '@patchbay/bench-kit';
import { repoRoot, tempDir } from '@patchbay/testing';
import { stringify } from 'yaml';
import { HostClients } from './hosts.js';
import { endpointsIn, gatewayConfig } from './point.js';

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const devices = Number(arg('--devices') ?? 10_000);
const runs = Number(arg('--runs') ?? 3);
const root = resolve(arg('--root') ?? repoRoot);
const profDir = arg('--cpu-prof');

const times: number[] = [];
for (let run = 0; run < runs; run++) {
  const dir = tempDir('patchbay-scale-startup-');
  const ep = await endpointsIn(dir.path);
  const hosts = new HostClients(ep, 0);
  await hosts.listenJeedom();
  await hosts.listenTracim();
  const configPath = join(dir.path, 'patchbay.yaml');
  writeFileSync(configPath, stringify(gatewayConfig(ep, { devices, clients: 0, rate: 10_000 }, join(dir.path, 'data'))));
  const prof = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=startup-N${devices}-${run}.cpuprofile`, '--cpu-prof-interval=1000'] : [];
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, ['--max-semi-space-size=2', '--heap-growing-percent=100', '--single-threaded-gc', ...prof, join(root, 'apps/gateway/dist/cli.js'), 'run', '--config', configPath], { cwd: dir.path, stdio: ['ignore', 'ignore', 'inherit'] });
  // The figure is the time this poll takes, so a poll is the measurement.
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the gateway exited (${child.exitCode})`);
    const ok = await fetch(`http://127.0.0.1:${ep.http}/healthz`)
      .then((r) => (r.body?.cancel(), r.status === 200))
      .catch(() => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const ms = performance.now() - spawnedAt;
  times.push(ms);
  console.log(`startup: N=${devices} run ${run + 1}: ${fmt(ms)} ms to /healthz 200`);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  await hosts.close();
  dir.remove();
}
times.sort((a, b) => a - b);
console.log(`startup: N=${devices} ${root}: median ${fmt(times[Math.floor(times.length / 2)] ?? Number.NaN)} ms over ${runs} runs (min ${fmt(times[0] ?? Number.NaN)})`);
