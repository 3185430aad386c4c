import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SpecIssue } from '@patchbay/core';
import { Mosquitto, tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { builtinsOf } from '../src/config/builtins.js';
import { createRegistry } from '../src/config/registry.js';
import { resolveConfig } from '../src/config/resolve.js';
import { validateConfig } from '../src/config/validate.js';
import { runGateway } from '../src/run/gateway.js';

const manifest = JSON.parse(readFileSync(join(import.meta.dirname, '../package.json'), 'utf8')) as { dependencies: Record<string, string> };
const registry = createRegistry(builtinsOf(manifest), { cwd: process.cwd() });
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});
const at = (issues: readonly SpecIssue[], path: string) => issues.filter((i) => i.path === path).map((i) => i.message);

describe('gateway cluster section', () => {
  it('cluster config - a cluster section is checked with the rest: its url, a gateway id that is a topic level, the host id it takes; routes may then name other gateways\' devices (19.1, 19.3)', async () => {
    const good = await validateConfig({ gateway: { name: 'garage' }, cluster: { url: 'mqtt://127.0.0.1:1883', name: 'home' } }, registry);
    expect(good.issues).toEqual([]);
    expect(good.validated?.config.cluster).toMatchObject({ url: 'mqtt://127.0.0.1:1883', name: 'home', keepaliveSeconds: 10 });
    const none = await validateConfig({}, registry);
    expect(none.validated?.config.cluster).toBeUndefined();

    const bad = await validateConfig({ gateway: { name: 'a/b' }, hosts: [{ id: 'cluster', adapter: 'ws' }], cluster: { url: 'http://x', name: 'home/+' } }, registry);
    expect(at(bad.issues, 'cluster.url').join()).toMatch(/mqtt:\/\//);
    expect(at(bad.issues, 'cluster.name').join()).toMatch(/wildcard|"\/"/);
    expect(at(bad.issues, 'hosts').join()).toMatch(/"cluster" is the cluster link's/);
    // Routes may name another gateway's devices only in a cluster.
    const routes = { devices: [{ id: 'thermo1', driver: 'sim' }], hosts: [{ id: 'web', adapter: 'ws' }], routes: [{ devices: ['thermo1', 'meter9'], hosts: ['web'] }] };
    expect(at((await validateConfig(routes, registry)).issues, 'routes[0].devices[1]').join()).toMatch(/unknown device "meter9"/);
    const inCluster = await validateConfig({ ...routes, cluster: { url: 'mqtt://127.0.0.1:1883' } }, registry);
    expect(inCluster.issues).toEqual([]);
    expect(inCluster.warnings.join()).toMatch(/routes\[0\]\.devices\[1\]: "meter9" is not a device of this gateway; it is taken as a device of another gateway/);
    const name = await validateConfig({ gateway: { name: 'a/b' }, cluster: { url: 'mqtt://127.0.0.1:1883' } }, registry);
    expect(at(name.issues, 'cluster.gateway').join()).toMatch(/gateway.name "a\/b" cannot be this gateway's id in the cluster/);
  });

  it('cluster run - two gateways run from their configs share their devices, routes or not, and /healthz has the cluster section (19.1, 19.7)', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.close());
    const dir = tempDir();
    cleanups.push(dir.remove);
    const run = async (raw: Record<string, unknown>) => {
      const validated = await validateConfig({ log: { level: 'silent' }, ...raw }, registry);
      expect(validated.issues).toEqual([]);
      const running = await runGateway(resolveConfig(validated.validated as NonNullable<typeof validated.validated>, dir.path));
      cleanups.push(() => running.stop());
      return running;
    };
    const cluster = { url: broker.url, name: 'home', reconnectMs: 200 };
    await run({
      gateway: { name: 'A', http: { port: 0 }, dataDir: join(dir.path, 'a') },
      devices: [{ id: 'thermo1', driver: 'sim', options: { interval: 200 } }],
      hosts: [{ id: 'web', adapter: 'ws' }],
      // Routes name no cluster link: the gateway's devices are shared all the same.
      routes: [{ devices: ['thermo1'], hosts: ['web'] }],
      cluster,
    });
    const b = await run({ gateway: { name: 'B', http: { port: 0 }, dataDir: join(dir.path, 'b') }, cluster });
    const url = `http://127.0.0.1:${b.http?.port}/healthz`;
    type Health = { cluster: { gateway: string; connected: boolean; gateways: { id: string; status: string; devices: string[] }[] } | null; devices: { id: string; origin?: string }[] };
    let health: Health | undefined;
    for (let i = 0; i < 200; i++) {
      health = (await (await fetch(url)).json()) as Health;
      if (health.devices.some((d) => d.id === 'thermo1' && d.origin === 'A')) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(health?.devices).toContainEqual(expect.objectContaining({ id: 'thermo1', origin: 'A' }));
    expect(health?.cluster).toMatchObject({ gateway: 'B', connected: true, gateways: [{ id: 'B', status: 'online', self: true, devices: [] }, { id: 'A', status: 'online', devices: ['thermo1'] }] });
    const reply = await b.gateway.submit('cluster', { device: 'thermo1', action: 'refresh' }).catch((e: unknown) => e);
    expect(reply).toMatchObject({ ok: false, code: 'PB202_NOT_ROUTED' });
  });
});
