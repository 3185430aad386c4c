/**
 * The end-to-end scenario as a benchmark (issue 9): the simulated device reporting every 10 ms
 * over a real pty, one `patchbay run` child, five real host peers each sending a command every
 * 100 ms, for SCENARIO_SECONDS (default 60). With `--soak [--minutes N]` it runs N minutes
 * (default 10), samples the gateway's RSS every 10 s and reports the growth after warm-up.
 */
import { fmt, report, type Figure } from '@patchbay/bench-kit';
import { figures, Scenario, until, usageFigures } from '../../../test/e2e/scenario.js';

const args = process.argv.slice(2);
const soak = args.includes('--soak');
/** Three gateways over mosquitto (issue 19): the device on one, the hosts on the two others. */
const cluster = args.includes('--cluster');
const minutesArg = args.indexOf('--minutes');
const minutes = minutesArg >= 0 ? Number(args[minutesArg + 1]) : 10;
const seconds = soak ? minutes * 60 : Number(process.env.SCENARIO_SECONDS ?? 60);
const sampleEveryMs = soak ? 10_000 : 1_000;
/** Soak: RSS growth is measured from the first sample after this. */
const warmUpMs = Math.min(120_000, (seconds * 1000) / 5);

function gauge(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? Number.NaN : Number(line.split(' ').at(-1));
}

const scenario = new Scenario({ cluster });
try {
  await scenario.start();
  const started = Date.now();
  scenario.startCommands();
  const sampler = setInterval(() => {
    scenario.sampleUsage();
    if (soak) {
      const last = scenario.usage.at(-1);
      if (last) console.log(`soak: ${((last[0] - started) / 1000).toFixed(0)} s  RSS ${(last[1] / 2 ** 20).toFixed(1)} MB`);
    }
  }, sampleEveryMs);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  scenario.stopCommands();
  clearInterval(sampler);
  scenario.sampleUsage();
  // Let the last replies arrive (unanswered ones count as lost below), then stop the device so the state is final.
  await until(() => scenario.allAnswered(), 'a reply to every command', 15_000).catch(() => undefined);
  const metrics = await scenario.metrics();
  await scenario.sim?.stop(5000);
  const final = await scenario.gatewayState();
  const stateHosts = [scenario.jeedom, scenario.tracim, scenario.domogik, scenario.ws];
  const current = (last: Record<string, unknown>) => ['temperature', 'humidity', 'relay'].every((c) => last[c] === final[c]);
  await until(() => {
    scenario.jeedom.poll();
    return stateHosts.every((h) => current(h.stats.last));
  }, 'every host current', 15_000).catch(() => undefined);

  const expected = gauge(metrics, 'patchbay_device_events_total', 'device="dev"');
  const rows = figures(scenario);
  const out: Figure[] = [];
  let worst = Number.POSITIVE_INFINITY;
  for (const row of rows) {
    const host = stateHosts.find((h) => h.stats.name === row.host);
    const stale = host && !current(host.stats.last) ? 1 : 0;
    const lost = row.unanswered + row.lostInKill + stale;
    if (host) {
      const ratio = row.delivered / expected;
      worst = Math.min(worst, ratio);
      out.push({ metric: `${row.host} state values delivered`, value: row.delivered, unit: 'values', baseline: expected, ratio, note: 'baseline: state events the device reported (gateway counter); under it = coalesced per device+channel, never stale' });
    }
    out.push({ metric: `${row.host} lost`, value: lost, unit: 'items', target: '0', pass: lost === 0, note: 'unanswered commands + not current at the end' });
    out.push({ metric: `${row.host} duplicated`, value: row.duplicates + row.multiReplies, unit: 'items', target: '0', pass: row.duplicates + row.multiReplies === 0 });
    if (host) {
      out.push({ metric: `${row.host} latency gateway-ingest->host p50`, value: row.latencyP50, unit: 'ms' });
      out.push({ metric: `${row.host} latency gateway-ingest->host p99`, value: row.latencyP99, unit: 'ms' });
    }
    out.push({ metric: `${row.host} command round trip p50`, value: row.rttP50, unit: 'ms', note: `${row.commands} commands, ${row.failed} failed replies` });
    out.push({ metric: `${row.host} command round trip p99`, value: row.rttP99, unit: 'ms' });
  }
  const usage = usageFigures(scenario);
  out.push({ metric: 'gateway RSS', value: usage.rssMb, unit: 'MB', note: 'run from source under tsx' });
  out.push({ metric: 'gateway CPU', value: usage.cpuPercent, unit: '% of one core' });
  if (soak) {
    const after = scenario.usage.filter(([t]) => t - started >= warmUpMs);
    const first = after[0]?.[1] ?? Number.NaN;
    const last = after.at(-1)?.[1] ?? Number.NaN;
    const growth = ((last - first) / first) * 100;
    out.push({ metric: 'soak RSS after warm-up', value: last / 2 ** 20, unit: 'MB', baseline: first / 2 ** 20, ratio: last / first, target: '< 10 % growth', pass: growth < 10, note: `${fmt(growth)} % over ${fmt((seconds * 1000 - warmUpMs) / 60_000)} min after ${fmt(warmUpMs / 1000)} s warm-up` });
    report('soak', out, { ratio: first / last, label: 'RSS after warm-up / RSS at the end (1 = no growth)' });
  } else {
    report(cluster ? 'scenario-cluster' : 'scenario', out, { ratio: worst, label: `state values delivered / reported by the device, worst host, ${seconds} s${cluster ? ', three gateways' : ''}` });
  }
} finally {
  await scenario.stop();
}
