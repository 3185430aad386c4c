import { join } from 'node:path';
import { Mosquitto, tempDir, type PatchbayProcess } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { gatewayProcess, WsClient, type WsMessage } from './processes.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

// Long enough that a loaded machine's scheduling delays stay well inside 1.5 keep-alives,
// short enough that a will that never came (detection by keep-alive alone) would still be caught by the bound.
const KEEPALIVE_S = 6;
// Three gateway start-ups, a kill and a resync: far more than the shared 20 s on a loaded 2-core machine.
const PROCESS_TEST_MS = 90_000;

describe('cluster - real gateway processes', () => {
  it('cluster processes - B\'s ws client sees and drives A\'s device; kill -9 of A makes it offline within 1.5 × keep-alive; A\'s return resyncs it with no duplicate momentary event (19.3, 19.4, 19.5)', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.close());
    const dir = tempDir();
    cleanups.push(dir.remove);
    const cluster = { url: broker.url, name: 'home', keepaliveSeconds: KEEPALIVE_S, reconnectMs: 200 };
    const runA = gatewayProcess(dir.path, { gateway: { name: 'A', dataDir: join(dir.path, 'a') }, devices: [{ id: 'thermo1', driver: 'sim', options: { interval: 200 } }], cluster });
    const runB = gatewayProcess(dir.path, { gateway: { name: 'B', dataDir: join(dir.path, 'b') }, hosts: [{ id: 'ws', adapter: 'ws' }], cluster });
    const spawn = (run: () => PatchbayProcess): PatchbayProcess => {
      const proc = run();
      cleanups.push(() => proc.stop());
      return proc;
    };
    const b = spawn(runB);
    await b.waitStarted();
    const first = spawn(runA);
    await first.waitStarted();
    const client = await WsClient.open(`${(b.url as string).replace(/^http/, 'ws')}/ws`);
    cleanups.push(() => client.close());
    const ofThermo = (type: string, extra: (m: WsMessage) => boolean = () => true) => (m: WsMessage) => m.type === type && m.device === 'thermo1' && extra(m);

    await client.waitFor(ofThermo('state', (m) => m.channel === 'temperature'), "A's temperature on B's ws client");
    const relay = await client.command({ id: 'relay-on', device: 'thermo1', channel: 'relay', value: true });
    expect(relay).toMatchObject({ ok: true, value: true });
    await client.waitFor(ofThermo('state', (m) => m.channel === 'relay' && m.value === true), 'the relay on');
    const press = await client.command({ id: 'press-1', device: 'thermo1', action: 'press' });
    expect(press.ok).toBe(true);
    await client.waitFor(ofThermo('event', (m) => m.channel === 'button'), 'the press as a momentary event');

    const mark = client.messages.length;
    first.child.kill('SIGKILL');
    const killedAt = Date.now();
    await client.waitAfter(ofThermo('availability', (m) => m.availability === 'offline'), { from: mark, what: 'thermo1 offline on B', timeoutMs: 30_000 });
    // The broker publishes A's will when its connection drops, at the latest 1.5 keep-alives after its last packet.
    expect(Date.now() - killedAt).toBeLessThanOrEqual(1.5 * KEEPALIVE_S * 1000);
    await first.exited;
    const health = (await (await fetch(`${b.url as string}/healthz`)).json()) as { cluster: { gateways: { id: string; status: string; devices: string[] }[] }; devices: { id: string; origin?: string; availability?: string }[] };
    expect(health.cluster.gateways).toContainEqual({ id: 'A', status: 'offline', devices: ['thermo1'] });
    expect(health.devices).toContainEqual(expect.objectContaining({ id: 'thermo1', origin: 'A', availability: 'offline' }));
    const offlineReply = await client.command({ id: 'while-away', device: 'thermo1', channel: 'relay', value: false });
    expect(offlineReply).toMatchObject({ ok: false, code: 'PB204_DEVICE_UNAVAILABLE' });

    // Marked before the spawn: A may announce itself online before the test has read its start-up line.
    const back = client.messages.length;
    const second = spawn(runA);
    await second.waitStarted();
    await client.waitAfter(ofThermo('availability', (m) => m.availability === 'online'), { from: back, what: 'thermo1 online again on B', timeoutMs: 30_000 });
    await client.waitAfter(ofThermo('state', (m) => m.channel === 'temperature'), { from: back, what: 'states flowing again' });
    const again = await client.command({ id: 'relay-off', device: 'thermo1', channel: 'relay', value: false });
    expect(again).toMatchObject({ ok: true, value: false });
    // The press was retained on the broker; the resync does not hand it out again.
    expect(client.count(ofThermo('event'))).toBe(1);
    for (const id of ['relay-on', 'press-1', 'while-away', 'relay-off']) expect(client.count((m) => m.type === 'reply' && m.id === id)).toBe(1);
  }, PROCESS_TEST_MS);

  it('cluster processes - a gateway away past a command\'s timeout never carries it out after its asker had PB203; one away briefly carries out what was queued for it, once (19.6)', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.close());
    const dir = tempDir();
    cleanups.push(dir.remove);
    // A keep-alive long enough that a few seconds away is not a death.
    const cluster = { url: broker.url, name: 'home', keepaliveSeconds: 30, reconnectMs: 200 };
    const a = gatewayProcess(dir.path, { gateway: { name: 'A', dataDir: join(dir.path, 'a') }, devices: [{ id: 'thermo1', driver: 'sim', options: { interval: 200 } }], cluster })();
    cleanups.push(() => a.stop());
    const b = gatewayProcess(dir.path, { gateway: { name: 'B', dataDir: join(dir.path, 'b'), commandTimeoutMs: 1500 }, hosts: [{ id: 'ws', adapter: 'ws' }], cluster })();
    cleanups.push(() => b.stop());
    await Promise.all([a.waitStarted(), b.waitStarted()]);
    const client = await WsClient.open(`${(b.url as string).replace(/^http/, 'ws')}/ws`);
    cleanups.push(() => client.close());
    const relay = (m: WsMessage) => m.type === 'state' && m.device === 'thermo1' && m.channel === 'relay';
    await client.waitFor((m) => m.type === 'state' && m.device === 'thermo1' && m.channel === 'temperature', "A's temperature on B");

    // Away past the timeout: B answers PB203; A, back, does not switch the relay.
    a.child.kill('SIGSTOP');
    const late = await client.command({ id: 'late', device: 'thermo1', channel: 'relay', value: true });
    expect(late).toMatchObject({ ok: false, code: 'PB203_COMMAND_TIMEOUT' });
    a.child.kill('SIGCONT');
    await a.waitForLog((l) => /reached this gateway after its deadline/.test(String(l.msg)), { what: "A's refusal of the late command" });
    const mark = client.messages.length;
    await client.waitAfter((m) => m.type === 'state' && m.device === 'thermo1' && m.channel === 'temperature', { from: mark, what: "A's states after its return" });
    expect(client.messages.filter((m) => relay(m) && m.value === true)).toEqual([]);

    // Away briefly: the command queued for A is carried out once when it is back, within the timeout.
    a.child.kill('SIGSTOP');
    const queued = client.command({ id: 'queued', device: 'thermo1', channel: 'relay', value: true });
    await new Promise((resolve) => setTimeout(resolve, 400));
    a.child.kill('SIGCONT');
    expect(await queued).toMatchObject({ ok: true, value: true });
    await client.waitFor((m) => relay(m) && m.value === true, 'the relay on after A is back');
    for (const id of ['late', 'queued']) expect(client.count((m) => m.type === 'reply' && m.id === id)).toBe(1);
  }, PROCESS_TEST_MS);
});
