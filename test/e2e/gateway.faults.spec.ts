import { afterAll, describe, expect, it } from 'vitest';
import { figures, Scenario, until, usageFigures } from './scenario.js';

/** Outage lengths (issue 9: 10 s per host, 5 s for the line); shorter by env for quick local runs. */
const hostOutageMs = Number(process.env.FAULT_HOST_OUTAGE_MS ?? 10_000);
const serialCutMs = Number(process.env.FAULT_SERIAL_CUT_MS ?? 5_000);
const settleMs = 2_000;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `name value` of a Prometheus gauge line with these labels. */
function metric(text: string, name: string, labels: string): number {
  // `labels` are the first ones of the sample (`host="x"`), whatever follows them.
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`) || l.startsWith(`${name}{${labels},`));
  return line === undefined ? Number.NaN : Number(line.split(' ').at(-1));
}

describe('gateway under faults', () => {
  const scenario = new Scenario();
  afterAll(() => scenario.stop());

  it('faults - every host out in turn, the line cut, kill -9: latest state everywhere, one reply per command, nothing accepted lost', async () => {
    const started = Date.now();
    // A timeline of what was done when, printed with any unanswered command to show where it fell.
    const timeline: string[] = [];
    const mark = (what: string) => timeline.push(`${((Date.now() - started) / 1000).toFixed(2)}s ${what}`);
    await scenario.start();
    const sampler = setInterval(() => scenario.sampleUsage(), 1000);
    scenario.startCommands();
    await pause(settleMs);

    // Each host in turn is out for hostOutageMs, then back.
    const outages: [string, () => Promise<void>, () => Promise<void>][] = [
      ['jeedom', () => scenario.jeedom.stop(), () => scenario.jeedom.start()],
      ['tracim', () => scenario.tracim.stop(), () => scenario.tracim.start()],
      ['domogik', () => scenario.domogik.stop(), () => scenario.domogik.start()],
      ['comodojo', () => scenario.comodojo.stop(), () => scenario.comodojo.start()],
      ['ws', () => scenario.ws.stop(), () => scenario.ws.start()],
    ];
    for (const [name, stop, start] of outages) {
      scenario.down.add(name);
      mark(`${name} down`);
      await stop();
      await pause(hostOutageMs);
      await start();
      mark(`${name} back`);
      scenario.down.delete(name);
      await pause(settleMs);
    }

    // The serial line is cut: socat killed, restarted on the same link paths.
    mark('serial cut');
    await scenario.stopSocat();
    await pause(serialCutMs);
    scenario.startSocat();
    mark('serial back');
    await pause(settleMs);

    // kill -9 and restart with the same config and data dir; the clients that lost their
    // connection come back as their platforms do (Tracim's SDK registers again, ws reconnects).
    scenario.down.add('ws');
    mark('kill -9');
    await scenario.killGateway();
    await scenario.startGateway();
    scenario.markRestarted();
    mark('gateway restarted');
    scenario.tracim.register();
    scenario.ws.resetIds();
    await scenario.ws.start();
    scenario.down.delete('ws');
    await pause(settleMs);

    // Quiesce: no more commands, wait out the replies, then stop the device so the state is final.
    scenario.stopCommands();
    await until(() => scenario.allAnswered(), 'a reply to every command', 30_000).catch(() => undefined);
    await scenario.sim?.stop(5000);
    const final = await scenario.gatewayState();
    expect(Object.keys(final).sort()).toEqual(['humidity', 'relay', 'temperature']);
    const current = (last: Record<string, unknown>) => ['temperature', 'humidity', 'relay'].every((c) => last[c] === final[c]);
    const stateHosts = [scenario.jeedom, scenario.tracim, scenario.domogik, scenario.ws];
    await until(() => {
      scenario.jeedom.poll();
      return stateHosts.every((h) => current(h.stats.last));
    }, 'every host to hold the gateway’s final state', 30_000).catch(() => undefined);

    const metrics = await scenario.metrics();
    clearInterval(sampler);
    const table = figures(scenario);
    const usage = usageFigures(scenario);
    console.log(`fault suite: ${((Date.now() - started) / 1000).toFixed(0)} s, gateway RSS ${usage.rssMb.toFixed(0)} MB, CPU ${usage.cpuPercent.toFixed(0)} %`);
    console.table(table);
    console.log('final', final, Object.fromEntries(stateHosts.map((h) => [h.stats.name, h.stats.last])));

    for (const h of scenario.hosts) {
      const unanswered = [...h.stats.commands.entries()].filter(([, r]) => r.replies === 0 && !r.refused && !r.abandoned && !scenario.inKill(h.stats.name, r));
      if (unanswered.length > 0) console.log(`${h.stats.name} unanswered:`, unanswered.map(([id, r]) => `${id} sent at ${((r.sentAt - started) / 1000).toFixed(2)}s`), '\ntimeline:', timeline);
      const doubled = [...h.stats.commands.entries()].filter(([, r]) => r.replies > 1 && !scenario.repeatsAreRedeliveries(r));
      const at = (t: number) => `${((t - started) / 1000).toFixed(2)}s`;
      if (doubled.length > 0) console.log(`${h.stats.name} answered twice:`, doubled.map(([id, r]) => `${id} sent at ${at(r.sentAt)}, first ${r.firstReply ?? ''}, then ${(r.repeats ?? []).map((x) => `${x.same ? 'the same' : 'another'} at ${at(x.at)}`).join(', ')}`), '\ntimeline:', timeline);
    }
    for (const h of stateHosts) expect({ host: h.stats.name, last: h.stats.last }).toEqual({ host: h.stats.name, last: expect.objectContaining(final) });
    for (const row of table) {
      expect({ host: row.host, unanswered: row.unanswered, multiReplies: row.multiReplies, duplicates: row.duplicates }).toEqual({ host: row.host, unanswered: 0, multiReplies: 0, duplicates: 0 });
      expect(row.commands).toBeGreaterThan(0);
    }
    // Nothing accepted was dropped as undeliverable, and every outbox drained.
    for (const host of ['jeedom', 'tracim', 'domogik', 'comodojo', 'ws']) {
      expect({ host, failed: metric(metrics, 'patchbay_host_failed_events_total', `host="${host}"`), queued: metric(metrics, 'patchbay_host_queued_events', `host="${host}"`) }).toEqual({ host, failed: 0, queued: 0 });
    }
  });
});
