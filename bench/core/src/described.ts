/**
 * bench/core, described devices (issue 15, acceptance 7): the same core traffic with the
 * device described and every value and command checked against its description, and with no
 * description (nothing checked), journal off and on. Each figure is printed as a ratio to the
 * same run's figure with descriptions off; the target is 0.9 or more.
 *
 * Traffic: one sim-like device (temperature and humidity numbers with ranges, a writable
 * boolean relay) reporting to 4 hosts, then one host sending relay commands, half of them as
 * the strings "1"/"0" that the description coerces to booleans. Commands ask for their reply
 * in the host's outbox, as Jeedom's and Tracim's do, so with the journal on they are journaled.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, nowMs, report, type Figure } from '@patchbay/bench-kit';
import { createGateway, defineAdapter, defineDriver, type DeviceDescriptionInput, type DriverContext, type HostContext, type OutboundEvent } from '@patchbay/core';
import { FileJournal } from '@patchbay/journal';
import { z } from 'zod';

/**
 * Per run: in memory the core is fast, so it takes ten times the traffic for each run to last
 * long enough (about half a second) that the noise of a shared machine does not decide it.
 */
const TRAFFIC = { memory: { states: 2_000_000, commands: 100_000 }, journal: { states: 300_000, commands: 20_000 } };
const HOSTS = 4;
const RUNS = 7;
const SLICE = 10_000;
/** Commands in flight at once (a busy host's burst). */
const CONCURRENT = 500;
const TARGET = 0.9;

/** The sim driver's channels, as it describes them (packages/driver-sim). */
const simLike: DeviceDescriptionInput = {
  name: 'Simulated thermostat',
  manufacturer: 'Patchbay',
  model: 'sim',
  reportIntervalMs: 1000,
  channels: {
    temperature: { kind: 'number', unit: '°C', class: 'temperature', stateClass: 'measurement', min: -20, max: 50, step: 0.01 },
    humidity: { kind: 'number', unit: '%', class: 'humidity', stateClass: 'measurement', min: 0, max: 100, step: 0.1 },
    relay: { kind: 'boolean', class: 'switch', writable: true },
  },
};

let sink = 0;

interface Variant {
  described: boolean;
  journal: boolean;
}

interface Figures {
  statesPerSecond: number;
  commandsPerSecond: number;
}

async function run({ described, journal }: Variant): Promise<Figures> {
  const { states, commands } = journal ? TRAFFIC.journal : TRAFFIC.memory;
  let device: DriverContext | undefined;
  let asker: HostContext | undefined;
  let sent = 0;
  const driver = defineDriver({
    type: 'bench-described-driver',
    config: z.object({}),
    create: (_c, ctx) => ({
      start: () => {
        device = ctx;
        if (described) ctx.describe(simLike);
      },
      stop: () => undefined,
      send: (command) => {
        sent++;
        if (typeof command.value === 'boolean') sink++;
        return { ok: true };
      },
    }),
  });
  let delivered = 0;
  const host = defineAdapter({
    type: 'bench-described-host',
    config: z.object({}),
    create: (_c, ctx) => ({
      start: () => {
        asker ??= ctx;
      },
      stop: () => undefined,
      deliver: (event: OutboundEvent) => {
        if (event.kind === 'state') delivered++;
      },
    }),
  });
  const dir = mkdtempSync(join(tmpdir(), 'bench-described-'));
  const fileJournal = journal ? new FileJournal({ dir, fsync: 'interval' }) : undefined;
  const gateway = createGateway({
    devices: [{ id: 'dev', definition: driver }],
    hosts: Array.from({ length: HOSTS }, (_, i) => ({ id: `h${i}`, definition: host })),
    journal: fileJournal,
  });
  await gateway.start();
  const emit = (device as DriverContext).emit;
  // The description itself goes to the 4 hosts too: count from here.
  delivered = 0;

  let start = nowMs();
  for (let i = 0; i < states; i += SLICE) {
    for (let j = i; j < i + SLICE; j++) {
      const pick = j % 3;
      if (pick === 0) emit('temperature', 15 + (j % 1000) / 100);
      else if (pick === 1) emit('humidity', 40 + (j % 500) / 10);
      else emit('relay', (j & 1) === 0);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  fileJournal?.flush();
  const statesPerSecond = states / ((nowMs() - start) / 1000);

  const ctx = asker as HostContext;
  start = nowMs();
  for (let i = 0; i < commands; i += CONCURRENT) {
    const replies = [];
    for (let j = i; j < i + CONCURRENT; j++) {
      const value = (j & 2) === 0 ? (j & 1) === 0 : (j & 1) === 0 ? '1' : '0';
      replies.push(ctx.submit({ device: 'dev', channel: 'relay', value }, { deliverReply: true }));
    }
    for (const reply of await Promise.all(replies)) if (!reply.ok) throw new Error(`command refused: ${reply.error ?? reply.code}`);
  }
  fileJournal?.flush();
  const commandsPerSecond = commands / ((nowMs() - start) / 1000);

  await gateway.stop();
  rmSync(dir, { recursive: true, force: true });
  if (delivered < states * HOSTS) throw new Error(`lost states: delivered ${delivered} of ${states * HOSTS}`);
  if (sent !== commands) throw new Error(`the driver got ${sent} of ${commands} commands`);
  return { statesPerSecond, commandsPerSecond };
}

const key = (v: Variant) => `${v.described ? 'on' : 'off'}/${v.journal ? 'journal' : 'memory'}`;
const results = new Map<string, Figures[]>();
/** Collects garbage between runs when node runs with --expose-gc, so one run's garbage is not the next one's pause. */
const collect = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
async function measure(v: Variant): Promise<void> {
  collect();
  const figures = await run(v);
  results.set(key(v), [...(results.get(key(v)) ?? []), figures]);
}
// A warm-up pass of each (JIT), discarded; then pairs of runs, off and on side by side, in
// alternating order so that neither always comes first on a machine whose speed drifts.
for (const journal of [false, true]) for (const described of [false, true]) await run({ described, journal });
results.clear();
for (let r = 0; r < RUNS; r++) {
  for (const journal of [false, true]) {
    const order = r % 2 === 0 ? [false, true] : [true, false];
    for (const described of order) await measure({ described, journal });
  }
}

const figures: Figure[] = [];
const ratios: number[] = [];
for (const journal of [false, true]) {
  const off = results.get(key({ described: false, journal })) as Figures[];
  const on = results.get(key({ described: true, journal })) as Figures[];
  const label = journal ? 'journal on (fsync interval 1 s)' : 'journal off';
  for (const [what, pick, unit] of [
    ['state events to 4 hosts', (f: Figures) => f.statesPerSecond, 'events/s'],
    ['relay commands, reply through the outbox', (f: Figures) => f.commandsPerSecond, 'commands/s'],
  ] as const) {
    // Each run's figure against its own pair's figure with descriptions off; the median of those.
    const ratio = median(on.map((f, i) => pick(f) / pick(off[i] as Figures)));
    ratios.push(ratio);
    figures.push({
      metric: `core, descriptions and validation on vs off, ${label}: ${what}`,
      value: median(on.map(pick)),
      unit,
      baseline: median(off.map(pick)),
      ratio,
      target: `>= ${TARGET}x the same run with descriptions off (issue 15.7)`,
      pass: ratio >= TARGET,
      note: `median of ${RUNS} side-by-side pairs' ratios; baseline = no description, nothing checked`,
    });
  }
}
const worst = Math.min(...ratios);
report('core-described', figures, { ratio: worst, label: `worst of the 4: descriptions on vs off; ${worst >= TARGET ? 'meets' : 'misses'} >= ${TARGET}x` });
if (sink === -1) console.log('');
