/**
 * bench/serial: command round-trip latency host → gateway → serial driver → pty → simulated
 * device → reply, at 1,000 commands/s (open loop: each command leaves on schedule whether or
 * not earlier ones have been answered), next to the raw baseline measured in the same run and
 * the same ticks: the same command bytes written to a second socat pty and echoed back by a
 * plain serialport process. Each device end runs in its own process. Target (PERFORMANCE.md):
 * the gateway adds ≤ 0.3 ms at p50 and ≤ 1 ms at p99.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, nowMs, percentile, report, type Figure } from '@patchbay/bench-kit';
import { createGateway, defineAdapter } from '@patchbay/core';
import serialDriver from '@patchbay/driver-serial';
import { SerialPort } from 'serialport';
import { z } from 'zod';

const RATE = 1000; // commands per second
const COUNT = 4000; // measured per round
const WARMUP = 300; // sent first, not measured
const ROUNDS = 5;
const here = dirname(fileURLToPath(import.meta.url));

/** A socat pty pair; resolves once socat says it is carrying data. */
function socat(dir: string): Promise<{ a: string; b: string; child: ChildProcess }> {
  mkdirSync(dir, { recursive: true });
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

/** The device end in its own process (see device.ts); resolves once its port is open. */
function device(mode: 'echo' | 'sim', path: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--conditions=@patchbay/source', '--import', 'tsx', join(here, 'device.ts'), mode, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`device ${mode} exited with ${code}`)));
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => {
      if (text.includes('ready')) {
        child.removeAllListeners('exit');
        resolve(child);
      }
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** One path under test: send command `i`, resolve when its answer is back. */
interface Path {
  send(i: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Sends `total` commands down every path on one fixed 1/RATE schedule (open loop: nothing
 * waits for earlier answers), alternating which path goes first each tick, and returns each
 * path's latencies (ms) of the measured commands, ascending. Measuring both paths in the same
 * ticks means a hiccup of this shared machine hits both, so their difference holds.
 * A 1 ms timer sends whatever is due (no busy-waiting: a spinning sender would steal the
 * devices' CPU on 2 cores).
 */
function paced(total: number, paths: readonly Path[]): Promise<number[][]> {
  return new Promise((resolve) => {
    const latencies = paths.map((): number[] => []);
    const start = nowMs();
    let sent = 0;
    let done = 0;
    const expected = total * paths.length;
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((nowMs() - start) * RATE) / 1000) + 1);
      while (sent < due) {
        const i = sent++;
        for (let k = 0; k < paths.length; k++) {
          const index = (i + k) % paths.length;
          const at = nowMs();
          void (paths[index] as Path).send(i).then(() => {
            if (i >= WARMUP) (latencies[index] as number[]).push(nowMs() - at);
            if (++done === expected) resolve(latencies.map((l) => l.sort((x, y) => x - y)));
          });
        }
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
}

/** Raw: the command bytes over a pty to an echoing process, matched back by id. */
async function rawPath(path: string): Promise<Path> {
  const port = new SerialPort({ path, baudRate: 115_200, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  const waiting = new Map<string, () => void>();
  let pending = '';
  port.on('data', (chunk: Buffer) => {
    pending += chunk.toString('latin1');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const at = line.indexOf('"id":"') + 6;
      const id = line.slice(at, line.indexOf('"', at));
      waiting.get(id)?.();
      waiting.delete(id);
    }
  });
  return {
    send: (i) => {
      const id = `c${(i + 1).toString(36)}`;
      return new Promise<void>((resolve) => {
        waiting.set(id, resolve);
        // The very bytes the driver sends for relay=true.
        port.write(`{"id":"${id}","channel":"relay","value":true}\n`);
      });
    },
    close: () => new Promise<void>((resolve) => port.close(() => resolve())),
  };
}

/** Through the gateway: a host submits, the serial driver carries it to the simulated device. */
async function gatewayPath(path: string): Promise<Path & { failed: () => number }> {
  const host = defineAdapter({
    type: 'bench-host',
    config: z.object({}),
    create: () => ({ start: () => undefined, stop: () => undefined, deliver: () => undefined }),
  });
  const gateway = createGateway({
    devices: [{ id: 'dev', definition: serialDriver, options: { path } }],
    hosts: [{ id: 'bench', definition: host }],
  });
  await gateway.start();
  if (gateway.health().devices[0]?.status !== 'alive') throw new Error(`serial device not alive: ${JSON.stringify(gateway.health().devices[0])}`);
  let failed = 0;
  return {
    send: async () => {
      const reply = await gateway.submit('bench', { device: 'dev', channel: 'relay', value: true });
      if (!reply.ok) failed++;
    },
    close: () => gateway.stop({ drainTimeoutMs: 1000 }),
    failed: () => failed,
  };
}

const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-serial-'));
const rawPair = await socat(join(dir, 'raw'));
const gwPair = await socat(join(dir, 'gw'));
const rounds: { raw50: number; raw99: number; gw50: number; gw99: number; failed: number }[] = [];
try {
  const echo = await device('echo', rawPair.b);
  const sim = await device('sim', gwPair.b);
  for (let round = 0; round < ROUNDS; round++) {
    const raw = await rawPath(rawPair.a);
    const gw = await gatewayPath(gwPair.a);
    const [r, g] = (await paced(COUNT + WARMUP, [raw, gw])) as [number[], number[]];
    await raw.close();
    await gw.close();
    rounds.push({ raw50: percentile(r, 50), raw99: percentile(r, 99), gw50: percentile(g, 50), gw99: percentile(g, 99), failed: gw.failed() });
    console.error(`round ${round + 1}: raw p50 ${percentile(r, 50).toFixed(3)} p99 ${percentile(r, 99).toFixed(3)} ms; gateway p50 ${percentile(g, 50).toFixed(3)} p99 ${percentile(g, 99).toFixed(3)} ms`);
  }
  await stopChild(echo);
  await stopChild(sim);
} finally {
  rawPair.child.kill('SIGTERM');
  gwPair.child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}

const raw50 = median(rounds.map((r) => r.raw50));
const raw99 = median(rounds.map((r) => r.raw99));
const gw50 = median(rounds.map((r) => r.gw50));
const gw99 = median(rounds.map((r) => r.gw99));
// Added latency per round, then the median: within a round both paths shared the machine's state.
const added50 = median(rounds.map((r) => r.gw50 - r.raw50));
const added99 = median(rounds.map((r) => r.gw99 - r.raw99));
const failed = rounds.reduce((n, r) => n + r.failed, 0);
const note = `${COUNT} commands at ${RATE}/s on each path, interleaved, median of ${ROUNDS} rounds`;
const figures: Figure[] = [
  { metric: 'round trip p50', value: gw50, unit: 'ms', baseline: raw50, ratio: raw50 / gw50, note },
  { metric: 'round trip p99', value: gw99, unit: 'ms', baseline: raw99, ratio: raw99 / gw99, note },
  { metric: 'added by the gateway p50', value: added50, unit: 'ms', target: '<= 0.3 ms', pass: added50 <= 0.3 },
  { metric: 'added by the gateway p99', value: added99, unit: 'ms', target: '<= 1 ms', pass: added99 <= 1 },
  { metric: 'failed replies', value: failed, unit: 'replies', target: '0', pass: failed === 0 },
];
report('serial', figures, { ratio: raw50 / gw50, label: 'raw pty echo p50 / gateway round trip p50, higher is better' });
