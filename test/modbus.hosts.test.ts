/**
 * Issue 16, acceptance 1, end to end: a Modbus TCP device on Debian's pymodbus, bridged by the
 * real `patchbay` process into a Jeedom host (the PHP callback peer, commands over its TCP
 * socket) and the WebSocket API at once. Both write a holding register and a coil, and each
 * gets the device's confirmation; killing pymodbus takes the device offline in both hosts.
 */
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, JeedomCallback, PymodbusSlave, Signal, spawnPatchbay, tempDir, type PatchbayProcess } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { stringify } from 'yaml';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

const apikey = 'modbus-e2e-apikey-0123456789';

/** A WebSocket client of the gateway's API: every message, awaited by predicate. */
async function wsClient(url: string) {
  const socket = new WebSocket(url, ['patchbay.v1']);
  const messages: Record<string, unknown>[] = [];
  const changed = new Signal();
  socket.on('message', (data) => {
    messages.push(JSON.parse(String(data)) as Record<string, unknown>);
    changed.notify();
  });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  return {
    socket,
    messages,
    waitFor: (predicate: (m: Record<string, unknown>) => boolean, what: string, from = 0) =>
      changed.waitUntil(() => messages.slice(from).find(predicate), { what: `ws: ${what}`, timeoutMs: 20_000 }),
  };
}

function jeedomCommand(port: number, body: Record<string, unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(JSON.stringify({ apikey, action: 'command', ...body })));
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

describe('modbus - into the Jeedom and WebSocket hosts of a real gateway (16, acceptance 1)', () => {
  it('modbus - values with units in both hosts; each host writes a holding register and a coil, and gets the confirmation; pymodbus killed: offline in both, back after', async () => {
    let slave = await PymodbusSlave.start({ tcp: 0 }, [1]);
    cleanups.push(() => slave.kill());
    const modbusPort = slave.port as number;
    await slave.set({ unit: 1, table: 'ir', address: 0 }, [215]);
    await slave.set({ unit: 1, table: 'hr', address: 0 }, [44]);
    await slave.set({ unit: 1, table: 'co', address: 0 }, [false, false]);

    const dir = tempDir('patchbay-modbus-e2e-');
    cleanups.push(dir.remove);
    const [httpPort, socketPort, callbackPort] = [await freePort(), await freePort(), await freePort()];
    const log = await JeedomCallback.start({ port: callbackPort, apikey, dir: dir.path });
    cleanups.push(() => log.stop());
    const channels = {
      temperature: { table: 'input', address: 0, type: 'int16', scale: 0.1, unit: '°C', class: 'temperature' },
      setpoint: { table: 'holding', address: 0, type: 'int16', scale: 0.5, unit: '°C', class: 'temperature', writable: true, min: 5, max: 30 },
      relay: { table: 'coil', address: 0, writable: true, class: 'switch' },
      pump: { table: 'coil', address: 1, writable: true, class: 'switch' },
    };
    const configPath = join(dir.path, 'patchbay.yaml');
    writeFileSync(
      configPath,
      stringify({
        gateway: { dataDir: join(dir.path, 'data'), http: { host: '127.0.0.1', port: httpPort }, commandTimeoutMs: 3000, drainTimeoutMs: 1000 },
        log: { level: 'info', format: 'json' },
        devices: [{ id: 'boiler', driver: 'modbus', options: { connection: { type: 'tcp', host: '127.0.0.1', port: modbusPort, timeoutMs: 300 }, unitId: 1, pollIntervalMs: 150, offlineAfterTimeouts: 2, name: 'Boiler', channels } }],
        hosts: [
          { id: 'jeedom', adapter: 'jeedom', options: { socketPort, apikey, callback: `http://127.0.0.1:${callbackPort}/plugins/patchbay/core/php/jeePatchbay.php`, cycle: 0 } },
          { id: 'ws', adapter: 'ws', options: {} },
        ],
      }),
    );
    const proc: PatchbayProcess = spawnPatchbay(['run', '--config', configPath]);
    cleanups.push(() => proc.stop());
    await proc.waitStarted(30_000);
    const ws = await wsClient(`ws://127.0.0.1:${httpPort}/ws`);
    cleanups.push(() => ws.socket.close());

    // The values, with units: the description in the ws snapshot, the state in both hosts.
    const described = await ws.waitFor((m) => (m.type === 'snapshot' || m.type === 'description') && JSON.stringify(m).includes('"unit":"°C"'), 'the description with °C');
    expect(JSON.stringify(described)).toContain('"setpoint"');
    // A client that connected after the first poll has the value in its snapshot, else in a state message.
    await ws.waitFor(
      (m) => (m.type === 'state' && m.device === 'boiler' && m.channel === 'temperature' && m.value === 21.5) || (m.type === 'snapshot' && /"channel":"temperature","value":21\.5/.test(JSON.stringify(m))),
      'temperature 21.5',
    );
    await log.waitFor((b) => ((b.devices?.boiler as Record<string, unknown> | undefined)?.temperature === 21.5 ? true : undefined), 'temperature 21.5');

    // ws writes the holding register and a coil; each reply is the device's confirmation.
    ws.socket.send(JSON.stringify({ type: 'command', id: 'w1', device: 'boiler', channel: 'setpoint', value: 21 }));
    ws.socket.send(JSON.stringify({ type: 'command', id: 'w2', device: 'boiler', channel: 'relay', value: true }));
    expect(await ws.waitFor((m) => m.type === 'reply' && m.id === 'w1', 'reply w1')).toMatchObject({ ok: true, value: 21 });
    expect(await ws.waitFor((m) => m.type === 'reply' && m.id === 'w2', 'reply w2')).toMatchObject({ ok: true, value: true });
    expect(await slave.get({ unit: 1, table: 'hr', address: 0 })).toEqual([42]);
    expect(await slave.get({ unit: 1, table: 'co', address: 0 })).toEqual([true]);

    // Jeedom writes the same register and the other coil, over its TCP socket; replies come by the callback.
    await jeedomCommand(socketPort, { device: 'boiler', channel: 'setpoint', value: 19.5, id: 'j1' });
    await jeedomCommand(socketPort, { device: 'boiler', channel: 'pump', value: 1, id: 'j2' });
    const replyOf = (id: string) => log.waitFor((b) => (b.replies?.[id] as Record<string, unknown> | undefined) ?? undefined, `reply ${id}`);
    expect(await replyOf('j1')).toMatchObject({ ok: true, value: 19.5 });
    expect(await replyOf('j2')).toMatchObject({ ok: true, value: true });
    expect(await slave.get({ unit: 1, table: 'hr', address: 0 })).toEqual([39]);
    expect(await slave.get({ unit: 1, table: 'co', address: 1 })).toEqual([true]);
    // A read-only register is refused before the device is asked, with the same code in both hosts.
    ws.socket.send(JSON.stringify({ type: 'command', id: 'w3', device: 'boiler', channel: 'temperature', value: 1 }));
    expect(await ws.waitFor((m) => m.type === 'reply' && m.id === 'w3', 'reply w3')).toMatchObject({ ok: false, code: 'PB211_READ_ONLY' });
    await jeedomCommand(socketPort, { device: 'boiler', channel: 'temperature', value: 1, id: 'j3' });
    expect(await replyOf('j3')).toMatchObject({ ok: false });
    expect(await slave.get({ unit: 1, table: 'ir', address: 0 })).toEqual([215]);

    // pymodbus dies: the device is offline in both hosts; a command meanwhile gets one failed reply.
    const from = ws.messages.length;
    await slave.kill();
    await ws.waitFor((m) => m.type === 'availability' && m.device === 'boiler' && m.availability === 'offline', 'boiler offline', from);
    await log.waitFor((b) => ((b.availability?.boiler as Record<string, unknown> | undefined)?.state === 'offline' ? true : undefined), 'boiler offline');
    ws.socket.send(JSON.stringify({ type: 'command', id: 'w4', device: 'boiler', channel: 'relay', value: false }));
    expect(await ws.waitFor((m) => m.type === 'reply' && m.id === 'w4', 'reply w4')).toMatchObject({ ok: false });
    expect(ws.messages.filter((m) => m.type === 'reply' && m.id === 'w4')).toHaveLength(1);

    // It comes back on the same port: online again, and commands work.
    slave = await PymodbusSlave.start({ tcp: modbusPort }, [1]);
    await ws.waitFor((m) => m.type === 'availability' && m.device === 'boiler' && m.availability === 'online', 'boiler online again', from);
    await log.waitFor((b) => ((b.availability?.boiler as Record<string, unknown> | undefined)?.state === 'online' ? true : undefined), 'boiler online again');
    ws.socket.send(JSON.stringify({ type: 'command', id: 'w5', device: 'boiler', channel: 'relay', value: true }));
    expect(await ws.waitFor((m) => m.type === 'reply' && m.id === 'w5', 'reply w5')).toMatchObject({ ok: true, value: true });
    expect(await proc.stop()).toBe(0);
  });
});
