/**
 * Many devices into one Domogik host, for a before/after of a change to its batching: N sim
 * devices ticking at a fixed total rate through the gateway (in process) to the embedded bus,
 * a SUB counting what arrives. Prints the process CPU per value and the publications per value
 * over the window (run it in each checkout, in one sitting).
 *
 *   node --conditions=@patchbay/source --import tsx src/fanIn.ts --devices 1000 --rate 10000 --seconds 5
 */
import { fmt } from '@patchbay/bench-kit';
import { createGateway, silentLogger } from '@patchbay/core';
import domogikAdapter, { type DomogikConfig } from '@patchbay/adapter-domogik';
import type { DomogikPlugin } from '@patchbay/adapter-domogik/internal';
import simDriver from '@patchbay/driver-sim';
import { Subscriber } from 'zeromq';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const devices = arg('--devices', 1000);
const rate = arg('--rate', 10_000);
const seconds = arg('--seconds', 5);
// Two values a tick (temperature, humidity).
const interval = Math.max(1, Math.round((2 * devices * 1000) / rate));

const sensors: Record<string, number> = {};
for (let i = 0; i < devices; i++) {
  sensors[`d${i}.temperature`] = 3 * i + 1;
  sensors[`d${i}.humidity`] = 3 * i + 2;
}
let plugin: DomogikPlugin | undefined;
const gateway = createGateway({
  logger: silentLogger,
  devices: Array.from({ length: devices }, (_, i) => ({ id: `d${i}`, definition: simDriver, options: { interval } })),
  hosts: [
    {
      id: 'domogik',
      definition: { ...domogikAdapter, create: (config, ctx) => (plugin = domogikAdapter.create(config as DomogikConfig, ctx) as DomogikPlugin) },
      options: { bus: 'embedded', reqRepPort: 0, pubPort: 0, subPort: 0, host: 'bench', configService: 'none', sensors },
    },
  ],
});
await gateway.start();
const sub = new Subscriber({ linger: 0, receiveHighWaterMark: 1_000_000 });
sub.connect(`tcp://127.0.0.1:${plugin?.ports?.subPort}`);
sub.subscribe('client.sensor');
let recording = false;
let values = 0;
let publications = 0;
const loop = (async () => {
  for await (const [, data] of sub) {
    if (!recording) continue;
    publications++;
    // Keys are the sensors, and atTimestamp.
    values += Object.keys(JSON.parse(String(data)) as object).length - 1;
  }
})().catch(() => undefined);
// Past the slow joiner and the start-up's descriptions.
await new Promise((resolve) => setTimeout(resolve, 3000));
recording = true;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
const cpu = process.cpuUsage(cpu0);
const elapsed = performance.now() - t0;
recording = false;
const cpuUs = cpu.user + cpu.system;
console.log(
  `fan-in: N=${devices} at ${fmt(rate)} values/s configured: ${fmt((values * 1000) / elapsed)} values/s reached the SUB, ${fmt(cpuUs / values)} µs CPU per value (${fmt(cpuUs / elapsed / 10)} % of a core), ${fmt(publications / values)} publications per value`,
);
sub.close();
await loop;
await gateway.stop({ drainTimeoutMs: 500 });
process.exit(0);
