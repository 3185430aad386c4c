import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, spawnEmbeddedDefault, spawnPatchbay, tempDir, type PatchbayProcess } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

interface Health {
  status: string;
  devices: { id: string; status: string; lastSeen: number | null }[];
  hosts: { id: string; type: string; status: string; delivered: number }[];
}

/** Resolves with the first WebSocket message that matches. */
function nextMessage(socket: WebSocket, predicate: (m: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> {
  let last: unknown;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; last message: ${JSON.stringify(last)}`)), 15_000);
    const onMessage = (data: WebSocket.RawData) => {
      const message = JSON.parse(String(data)) as Record<string, unknown>;
      last = message;
      if (predicate(message)) {
        clearTimeout(timer);
        socket.off('message', onMessage);
        resolve(message);
      }
    };
    socket.on('message', onMessage);
  });
}

describe('embedded default', () => {
  // The README's first command, with a throw-away data directory and free ports: the
  // platforms' standard ports (55009, 40410-40412, 10042) lie in the kernel's ephemeral range,
  // where any outgoing connection of a busy test machine may hold one. The cli tests check
  // that the embedded default uses the standard ports unless told otherwise.
  it('embedded default - every built-in adapter is alive, /healthz answers 200, the simulated devices reach every host', async () => {
    const proc: PatchbayProcess = await spawnEmbeddedDefault(['--serial-sim']);
    cleanups.push(() => proc.stop());
    await proc.waitStarted();
    const socket = new WebSocket(`${(proc.url as string).replace('http', 'ws')}/ws`);
    cleanups.push(() => socket.close());
    const snapshot = await nextMessage(socket, (m) => m.type === 'snapshot', 'the snapshot');
    expect(snapshot.devices).toEqual(expect.arrayContaining([expect.objectContaining({ device: 'thermo1' }), expect.objectContaining({ device: 'thermo-serial' })]));
    // Live state from both devices: the sim driver, and the sim on a pty through the serial driver.
    for (const device of ['thermo1', 'thermo-serial']) {
      await nextMessage(socket, (m) => m.type === 'state' && m.device === device && m.channel === 'temperature', `temperature from ${device}`);
    }
    // Every built-in adapter, alive, and each has been handed the devices' state. Health
    // messages carry only what changed (14.3): the whole report is /healthz, read at each one.
    let health: Health | undefined;
    await nextMessage(socket, (m) => {
      if (m.type !== 'health') return false;
      void fetch(`${proc.url}/healthz`).then(async (r) => {
        const h = (await r.json()) as Health;
        if (h.status === 'ok' && h.hosts.every((host) => host.delivered > 0)) health ??= h;
      }, () => undefined);
      return health !== undefined;
    }, 'every host alive and delivered to');
    const hosts = (health as Health).hosts.map((h) => h.type).sort();
    expect(hosts).toEqual(['comodojo', 'domogik', 'jeedom', 'mqtt', 'tracim', 'ws']);
    const response = await fetch(`${proc.url}/healthz`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Health;
    expect(body.devices.map((d) => [d.id, d.status])).toEqual([
      ['thermo1', 'alive'],
      ['thermo-serial', 'alive'],
    ]);
    expect(await proc.stop()).toBe(0);
  });
});

/** Lines a child process prints, awaited by predicate. */
function lineWatcher(child: ChildProcess) {
  const lines: string[] = [];
  const waiters: { predicate: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  let rest = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const w of waiters.slice()) {
        if (!w.predicate(line)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  return {
    lines,
    next: (predicate: (line: string) => boolean, what: string) =>
      new Promise<string>((resolve, reject) => {
        const found = lines.find(predicate);
        if (found !== undefined) return resolve(found);
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got: ${lines.slice(-5).join(' | ')}`)), 20_000);
        waiters.push({
          predicate,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      }),
  };
}

describe('embedded default - MQTT (17.6)', () => {
  it('embedded default - mosquitto_sub on the embedded broker shows the sim values, and mosquitto_pub on the relay /set switches it', async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const mqttPort = await freePort();
    const env: NodeJS.ProcessEnv = { PATCHBAY_CONFIG: '', PATCHBAY_MQTT_PORT: String(mqttPort) };
    for (const name of ['PATCHBAY_JEEDOM_PORT', 'PATCHBAY_COMODOJO_PORT', 'PATCHBAY_DOMOGIK_REQ_REP_PORT', 'PATCHBAY_DOMOGIK_PUB_PORT', 'PATCHBAY_DOMOGIK_SUB_PORT']) env[name] = String(await freePort());
    const proc: PatchbayProcess = spawnPatchbay(['run', '--port', '0', '--data-dir', dir.path], { env });
    cleanups.push(() => proc.stop());
    await proc.waitStarted();
    // The README's own command line, against the gateway's broker.
    const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-t', 'patchbay/#', '-v'], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => void sub.kill());
    const out = lineWatcher(sub);
    await out.next((l) => /^patchbay\/thermo1\/temperature -?\d+(\.\d+)?$/.test(l), 'the sim temperature on patchbay/thermo1/temperature');
    await out.next((l) => l === 'patchbay/thermo1/availability online', 'the sim availability');
    const relay = await out.next((l) => /^patchbay\/thermo1\/relay (ON|OFF)$/.test(l), 'the relay state');
    const target = relay.endsWith('ON') ? 'OFF' : 'ON';
    const pub = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-t', 'patchbay/thermo1/relay/set', '-m', target], { stdio: 'inherit' });
    expect(await new Promise((resolve) => pub.on('exit', resolve))).toBe(0);
    await out.next((l) => l === `patchbay/thermo1/relay ${target}`, `the relay switched ${target}`);
    expect(await proc.stop()).toBe(0);
  });
});
