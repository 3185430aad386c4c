/**
 * Issue 19, acceptance 1 and 2: mosquitto and three gateway processes on loopback. A has the
 * simulated device; B has a ws host and a Jeedom host (the PHP callback peer); C has a
 * Comodojo host (the PHP client peer). Commands from each host reach A's device and get one
 * reply; A's state reaches every host; a kill -9 of A makes its device offline on B and C.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, Mosquitto, spawnPatchbay, tempDir, type PatchbayProcess } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { ComodojoPeer, JeedomPeer, statsChanged, WsPeer, type HostPeer } from './e2e/peers.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

// Long enough that a loaded machine's scheduling stays well inside 1.5 keep-alives; a will that never
// came would leave A online for good, so the bound still catches it.
const KEEPALIVE_S = 6;

describe('cluster e2e - three gateway processes', () => {
  it('cluster e2e - commands from B\'s ws and Jeedom hosts and C\'s Comodojo host reach A\'s device with one reply each; A\'s state reaches them all; kill -9 of A is offline on B and C within 1.5 x keep-alive (19 acceptance 1, 2)', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.close());
    const dir = tempDir('patchbay-cluster-e2e-');
    cleanups.push(dir.remove);
    const [httpB, httpC, jeedomSocket, jeedomCallback, comodojo] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const apikey = 'cluster-e2e-apikey-0123456789';
    const cluster = { url: broker.url, name: 'house', keepaliveSeconds: KEEPALIVE_S, reconnectMs: 200 };
    const run = (name: string, config: Record<string, unknown>): PatchbayProcess => {
      const file = join(dir.path, `${name}.json`);
      writeFileSync(file, JSON.stringify({ log: { level: 'info', format: 'json' }, cluster, ...config, gateway: { name, dataDir: join(dir.path, name), ...(config.gateway as object) } }));
      const proc = spawnPatchbay(['run', '--config', file]);
      cleanups.push(() => proc.stop());
      return proc;
    };
    const jeedom = new JeedomPeer({ httpPort: jeedomCallback, socketPort: jeedomSocket, apikey, logFile: join(dir.path, 'jeedom.log') });
    await jeedom.start();
    cleanups.push(() => jeedom.close());

    const a = run('A', { gateway: { http: { port: 0 } }, devices: [{ id: 'dev', driver: 'sim', options: { interval: 200 } }] });
    const b = run('B', {
      gateway: { http: { host: '127.0.0.1', port: httpB } },
      hosts: [
        { id: 'ws', adapter: 'ws', options: {} },
        { id: 'jeedom', adapter: 'jeedom', options: { socketPort: jeedomSocket, apikey, callback: `http://127.0.0.1:${jeedomCallback}/plugins/patchbay/core/php/jeePatchbay.php`, cycle: 0 } },
      ],
    });
    const c = run('C', { gateway: { http: { host: '127.0.0.1', port: httpC } }, hosts: [{ id: 'comodojo', adapter: 'comodojo', options: { socket: `tcp://127.0.0.1:${comodojo}` } }] });
    await Promise.all([a.waitStarted(30_000), b.waitStarted(30_000), c.waitStarted(30_000)]);
    await c.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('comodojo RPC socket listening'), { what: 'the comodojo socket' });
    const ws = new WsPeer(() => `ws://127.0.0.1:${httpB}/ws`);
    await ws.start();
    cleanups.push(() => ws.close());
    const rpc = new ComodojoPeer({ socket: `tcp://127.0.0.1:${comodojo}` });
    await rpc.start();
    cleanups.push(() => rpc.close());

    // A's state reaches every host on B and C.
    const health = async (port: number) => (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { devices: { id: string; origin?: string; availability?: string }[] };
    await statsChanged.waitUntil(() => (typeof ws.stats.last.temperature === 'number' && typeof jeedom.stats.last.temperature === 'number' ? true : undefined), { timeoutMs: 30_000, what: "A's temperature on B's ws and Jeedom hosts" });
    let channels: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && typeof channels?.temperature !== 'number'; i++) channels = await rpc.state();
    expect(typeof channels?.temperature).toBe('number');

    // A command from each host, one reply each.
    const hosts: [HostPeer, string, boolean][] = [
      [ws, 'ws-1', true],
      [jeedom, 'jeedom-1', false],
      [rpc, 'rpc-1', true],
    ];
    for (const [peer, id, value] of hosts) {
      peer.command(id, value);
      const record = await statsChanged.waitUntil(() => {
        const r = peer.stats.commands.get(id);
        return r !== undefined && r.replies > 0 ? r : undefined;
      }, { timeoutMs: 30_000, what: `the reply to ${id}` });
      expect(record, id).toMatchObject({ ok: true, replies: 1 });
    }
    await statsChanged.waitUntil(() => (ws.stats.last.relay === true ? true : undefined), { timeoutMs: 10_000, what: "the relay as C's command left it, on B" });
    for (const [peer, id] of hosts) expect(peer.stats.commands.get(id)?.replies, id).toBe(1);

    // kill -9 of A: its device offline on B and C.
    a.child.kill('SIGKILL');
    const killedAt = Date.now();
    const offline = async (port: number) => {
      for (;;) {
        const device = (await health(port)).devices.find((d) => d.id === 'dev');
        if (device?.availability === 'offline') return Date.now() - killedAt;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const [onB, onC] = await Promise.all([offline(httpB), offline(httpC)]);
    expect(Math.max(onB, onC)).toBeLessThanOrEqual(1.5 * KEEPALIVE_S * 1000);
    expect((await health(httpC)).devices.find((d) => d.id === 'dev')?.origin).toBe('A');
  }, 120_000);
});
