import { spawnEmbeddedDefault, type PatchbayProcess } from '@patchbay/testing';
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
