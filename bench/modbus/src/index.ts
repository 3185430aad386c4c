/**
 * bench/modbus: one poll cycle of 100 holding registers (100 uint16 channels, one FC3 read)
 * through the modbus driver inside a gateway, against a raw modbus-serial loop doing the
 * same read over the same kind of pty, interleaved cycle by cycle in the same run. The slave (slave.ts, its
 * own process) changes every register on every read, so the driver reports 100 values a
 * cycle. Target (issue 16): the driver reaches >= 0.9x the raw reads per second and adds at
 * most 1 ms per cycle at p99.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, nowMs, percentile, report, type Figure } from '@patchbay/bench-kit';
import { createGateway, defineAdapter, defineDriver } from '@patchbay/core';
import { modbusConfig } from '@patchbay/driver-modbus';
import { createModbusDriver, type ModbusDriver } from '@patchbay/driver-modbus/internal';
import modbusSerial from 'modbus-serial';
import { z } from 'zod';

const REGISTERS = 100;
const CYCLES = 2000; // measured per round
const WARMUP = 200;
const ROUNDS = 5;
const here = dirname(fileURLToPath(import.meta.url));

function socat(dir: string): Promise<{ a: string; b: string; child: ChildProcess }> {
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let log = '';
    child.once('exit', (code) => reject(new Error(`socat exited (${code}): ${log}`)));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      log += text;
      if (log.includes('starting data transfer loop')) {
        child.removeAllListeners('exit');
        child.stderr?.resume();
        resolve({ a, b, child });
      }
    });
  });
}

function slave(path: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--conditions=@patchbay/source', '--import', 'tsx', join(here, 'slave.ts'), path], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`slave exited with ${code}`)));
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => {
      if (text.includes('ready')) {
        child.removeAllListeners('exit');
        resolve(child);
      }
    });
  });
}

/** One path under test: one poll cycle, resolved once its reply is in. */
interface Path {
  cycle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Runs both paths' cycles interleaved (raw, driver, driver, raw, ...: the order flips every
 * cycle), so a hiccup of this shared machine hits both alike. Returns each path's cycle
 * times (ms, ascending) and its reads per second over the time it spent in its own cycles.
 */
async function measure(paths: readonly [Path, Path]): Promise<{ times: number[]; perSecond: number }[]> {
  const times: [number[], number[]] = [[], []];
  const spent = [0, 0];
  for (let i = 0; i < WARMUP + CYCLES; i++) {
    for (const k of i % 2 === 0 ? [0, 1] : [1, 0]) {
      const at = nowMs();
      await (paths[k] as Path).cycle();
      const took = nowMs() - at;
      if (i >= WARMUP) {
        times[k]?.push(took);
        spent[k] = (spent[k] ?? 0) + took;
      }
    }
  }
  return times.map((t, k) => ({ times: t.sort((x, y) => x - y), perSecond: (CYCLES * 1000) / (spent[k] ?? 1) }));
}

/** The baseline: modbus-serial's own buffered RTU port, the same read in a loop. */
async function raw(path: string): Promise<Path> {
  const client = new modbusSerial.default();
  await client.connectRTUBuffered(path, { baudRate: 115_200 });
  client.setID(1);
  client.setTimeout(1000);
  return {
    cycle: async () => {
      await client.readHoldingRegisters(0, REGISTERS);
    },
    close: () => new Promise<void>((resolve) => client.close(() => resolve())),
  };
}

/** The driver in a gateway with one host that takes every event, its poll cycle driven from here. */
async function driver(path: string): Promise<Path & { delivered: () => number }> {
  let instance: ModbusDriver | undefined;
  const definition = defineDriver({ type: 'modbus', config: modbusConfig, create: (config, ctx) => (instance = createModbusDriver(config, ctx, { autoPoll: false })) });
  let delivered = 0;
  const host = defineAdapter({
    type: 'bench-host',
    config: z.object({}),
    create: () => ({ start: () => undefined, stop: () => undefined, deliver: () => void delivered++ }),
  });
  const channels = Object.fromEntries(Array.from({ length: REGISTERS }, (_, i) => [`r${i}`, { table: 'holding', address: i }]));
  const gateway = createGateway({
    devices: [{ id: 'meter', definition, options: { connection: { type: 'rtu', path, baudRate: 115_200, timeoutMs: 1000 }, pollIntervalMs: 3_600_000, channels } }],
    hosts: [{ id: 'bench', definition: host }],
  });
  await gateway.start();
  const poll = instance as ModbusDriver;
  return { cycle: () => poll.pollCycle(), close: () => gateway.stop({ drainTimeoutMs: 1000 }), delivered: () => delivered };
}

// Two pty pairs with a slave process each (as bench/serial does): the raw loop and the
// driver then run interleaved cycle by cycle, which a single pty cannot carry (two readers
// of one pty take each other's bytes).
const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-modbus-'));
mkdirSync(join(dir, 'raw'));
mkdirSync(join(dir, 'driver'));
const rawPair = await socat(join(dir, 'raw'));
const driverPair = await socat(join(dir, 'driver'));
const rounds: { rawRate: number; rate: number; raw99: number; p99: number; raw50: number; p50: number; delivered: number }[] = [];
try {
  const slaves = [await slave(rawPair.b), await slave(driverPair.b)];
  for (let round = 0; round < ROUNDS; round++) {
    const r = await raw(rawPair.a);
    const d = await driver(driverPair.a);
    const [rr, dd] = (await measure([r, d])) as [{ times: number[]; perSecond: number }, { times: number[]; perSecond: number }];
    await r.close();
    await d.close();
    rounds.push({ rawRate: rr.perSecond, rate: dd.perSecond, raw99: percentile(rr.times, 99), p99: percentile(dd.times, 99), raw50: percentile(rr.times, 50), p50: percentile(dd.times, 50), delivered: d.delivered() });
    console.error(
      `round ${round + 1}: raw ${rr.perSecond.toFixed(0)} reads/s p50 ${percentile(rr.times, 50).toFixed(3)} p99 ${percentile(rr.times, 99).toFixed(3)} ms; driver ${dd.perSecond.toFixed(0)} reads/s p50 ${percentile(dd.times, 50).toFixed(3)} p99 ${percentile(dd.times, 99).toFixed(3)} ms; ${d.delivered()} events delivered`,
    );
  }
  for (const child of slaves) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
} finally {
  rawPair.child.kill('SIGTERM');
  driverPair.child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}

const rawRate = median(rounds.map((r) => r.rawRate));
const rate = median(rounds.map((r) => r.rate));
const ratio = median(rounds.map((r) => r.rate / r.rawRate));
const added99 = median(rounds.map((r) => r.p99 - r.raw99));
const added50 = median(rounds.map((r) => r.p50 - r.raw50));
const note = `${CYCLES} cycles of one ${REGISTERS}-register read (every value changed) on each path per round, interleaved, median of ${ROUNDS} rounds`;
const figures: Figure[] = [
  { metric: 'reads per second', value: rate, unit: 'reads/s', baseline: rawRate, ratio, target: '>= 0.9x', pass: ratio >= 0.9, note },
  { metric: 'cycle p50', value: median(rounds.map((r) => r.p50)), unit: 'ms', baseline: median(rounds.map((r) => r.raw50)) },
  { metric: 'cycle p99', value: median(rounds.map((r) => r.p99)), unit: 'ms', baseline: median(rounds.map((r) => r.raw99)) },
  { metric: 'added by the driver p50', value: added50, unit: 'ms' },
  { metric: 'added by the driver p99', value: added99, unit: 'ms', target: '<= 1 ms', pass: added99 <= 1 },
];
report('modbus', figures, { ratio, label: 'driver reads/s / raw modbus-serial reads/s, higher is better' });
