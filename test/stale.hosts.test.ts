/**
 * Issue 15, acceptance 6, end to end: a sim device stops reporting (its `mute` action) and every
 * host of a real gateway sees it `stale` within staleAfterMs plus one second, each in its own
 * vocabulary; when it reports again (`unmute`), `online` again. Hosts: ws, Jeedom (the PHP
 * callback), MQTT (the embedded broker, read with mosquitto_sub) and Comodojo (device.list
 * through the PHP client).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, JeedomCallback, repoRoot, Signal, spawnPatchbay, tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { stringify } from 'yaml';

const run = promisify(execFile);
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

const apikey = 'stale-e2e-apikey-0123456789';
const staleAfterMs = 1500;

/** Every line a child prints, awaited by predicate. */
function lines(child: ChildProcess) {
  const seen: { line: string; at: number }[] = [];
  const changed = new Signal();
  let rest = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) seen.push({ line, at: Date.now() });
    changed.notify();
  });
  return {
    after: (from: number, line: string, what: string) => changed.waitUntil(() => seen.slice(from).find((l) => l.line === line), { what, timeoutMs: 20_000 }),
    get count() {
      return seen.length;
    },
  };
}

describe('staleness in every host (15, acceptance 6)', () => {
  it('described - a device that stops reporting is stale in ws, Jeedom, MQTT and Comodojo within staleAfterMs + 1 s, and online in each once it reports again', async () => {
    const dir = tempDir('patchbay-stale-');
    cleanups.push(dir.remove);
    const [httpPort, socketPort, callbackPort, mqttPort, rpcPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const callback = await JeedomCallback.start({ port: callbackPort, apikey, dir: dir.path });
    cleanups.push(() => callback.stop());
    const config = join(dir.path, 'patchbay.yaml');
    writeFileSync(
      config,
      stringify({
        gateway: { dataDir: join(dir.path, 'data'), http: { host: '127.0.0.1', port: httpPort } },
        log: { format: 'json' },
        devices: [{ id: 'thermo1', driver: 'sim', staleAfterMs, options: { interval: 200 } }],
        hosts: [
          { id: 'ws', adapter: 'ws', options: {} },
          { id: 'jeedom', adapter: 'jeedom', options: { socketPort, apikey, callback: `http://127.0.0.1:${callbackPort}/plugins/patchbay/core/php/jeePatchbay.php`, cycle: 0 } },
          { id: 'mqtt', adapter: 'mqtt', options: { embedded: { port: mqttPort } } },
          { id: 'rpc', adapter: 'comodojo', options: { socket: `tcp://127.0.0.1:${rpcPort}` } },
        ],
      }),
    );
    const gateway = spawnPatchbay(['run', '--config', config]);
    cleanups.push(() => gateway.stop());
    await gateway.waitStarted(30_000);

    const ws = new WebSocket(`ws://127.0.0.1:${httpPort}/ws`);
    cleanups.push(() => ws.close());
    const messages: { message: Record<string, unknown>; at: number }[] = [];
    const wsChanged = new Signal();
    ws.on('message', (data) => {
      messages.push({ message: JSON.parse(String(data)) as Record<string, unknown>, at: Date.now() });
      wsChanged.notify();
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const wsAvailability = (state: string, from: number) =>
      wsChanged.waitUntil(() => messages.slice(from).find((m) => m.message.type === 'availability' && m.message.device === 'thermo1' && m.message.availability === state), { what: `ws: thermo1 ${state}`, timeoutMs: 20_000 });
    const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-t', 'patchbay/thermo1/availability'], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => void sub.kill());
    const mqtt = lines(sub);
    await mqtt.after(0, 'online', 'mqtt: thermo1 online');
    const jeedomAvailability = (state: string, from: number) =>
      callback.changed.waitUntil(() => callback.bodies().slice(from).find((b) => (b.availability?.thermo1 as { state?: string } | undefined)?.state === state), { what: `jeedom: thermo1 ${state}`, timeoutMs: 20_000 });
    const comodojoAvailability = async () => {
      const { stdout } = await run('php', [join(repoRoot, 'test/peers/comodojo/client.php'), `tcp://127.0.0.1:${rpcPort}`, 'device.list', '[]']);
      return JSON.stringify(JSON.parse(stdout)).match(/"availability":"(\w+)"/)?.[1];
    };

    // The device goes quiet: mute, by command, from the ws client.
    const [fromWs, fromMqtt, fromJeedom] = [messages.length, mqtt.count, callback.bodies().length];
    ws.send(JSON.stringify({ type: 'command', id: 'm1', device: 'thermo1', action: 'mute' }));
    const muted = await wsChanged.waitUntil(() => messages.find((m) => m.message.type === 'reply' && m.message.id === 'm1'), { what: 'the mute reply', timeoutMs: 20_000 });
    expect(muted.message).toMatchObject({ ok: true });
    const wsStale = await wsAvailability('stale', fromWs);
    const mqttStale = await mqtt.after(fromMqtt, 'stale', 'mqtt: thermo1 stale');
    await jeedomAvailability('stale', fromJeedom);
    expect(await comodojoAvailability()).toBe('stale');
    // Its last report came at most one interval before the mute was answered.
    for (const at of [wsStale.at, mqttStale.at]) expect(at - muted.at).toBeLessThanOrEqual(staleAfterMs + 1000);

    const [againWs, againMqtt, againJeedom] = [messages.length, mqtt.count, callback.bodies().length];
    ws.send(JSON.stringify({ type: 'command', id: 'm2', device: 'thermo1', action: 'unmute' }));
    await wsAvailability('online', againWs);
    await mqtt.after(againMqtt, 'online', 'mqtt: thermo1 online again');
    await jeedomAvailability('online', againJeedom);
    expect(await comodojoAvailability()).toBe('online');
    expect(await gateway.stop()).toBe(0);
  });
});
