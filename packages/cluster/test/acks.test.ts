/**
 * Issue 19.6: a QoS 1 message the broker sends the cluster link is acknowledged (PUBACK) only
 * once what it carries is in the gateway's journal, so a gateway killed in between gets it
 * again from its persistent session. Gateway B is a real process with its file journal and a
 * Jeedom host whose callback is not up yet (what B takes in waits in the journal for it); the
 * other gateway, X, is played by hand with a raw MQTT 5 client. B's journal writes are held at
 * the system call (journalHold.ts) and its packets read by a tap in front of the broker.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, JeedomCallback, Mosquitto, tempDir, type PatchbayProcess } from '@patchbay/testing';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { JournalHold } from './journalHold.js';
import { PacketTap } from './packetTap.js';
import { gatewayProcess } from './processes.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

// Gateway start-ups under strace on a loaded 2-core machine.
const PROCESS_TEST_MS = 90_000;
const APIKEY = 'cluster-acks-apikey-0123456789';
const description = { name: 'Button', channels: { button: { kind: 'event' } } };

/** B up with X's device `button1`, its journal writes held, and one momentary event of X on its way to B. */
async function eventHeldInB() {
  const broker = await Mosquitto.start();
  cleanups.push(() => broker.close());
  const tap = await PacketTap.start({ host: '127.0.0.1', port: broker.port });
  cleanups.push(() => tap.close());
  const dir = tempDir();
  cleanups.push(dir.remove);
  const [socketPort, callbackPort] = await Promise.all([freePort(), freePort()]);
  const runB = gatewayProcess(dir.path, {
    gateway: { name: 'B', dataDir: join(dir.path, 'b') },
    hosts: [{ id: 'jeedom', adapter: 'jeedom', options: { socketPort, apikey: APIKEY, callback: `http://127.0.0.1:${callbackPort}/plugins/patchbay/core/php/jeePatchbay.php`, cycle: 0 } }],
    cluster: { url: tap.url, name: 'home', keepaliveSeconds: 30, reconnectMs: 200 },
  });
  const spawnB = (): PatchbayProcess => {
    const proc = runB();
    cleanups.push(() => proc.stop());
    return proc;
  };
  const x = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  cleanups.push(() => x.endAsync());
  await x.publishAsync('home/X/status', 'online', { qos: 1, retain: true, properties: { userProperties: { boot: 'x1' } } });
  await x.publishAsync('home/X/button1/description', JSON.stringify({ description, since: 1 }), { qos: 1, retain: true });
  const topic = 'home/X/button1/event/button';
  let events = 0;
  /** X's next momentary event, with a value of its own. */
  const press = async (value: string) => {
    events++;
    await x.publishAsync(topic, JSON.stringify({ id: `00000000${String(events).padStart(4, '0')}0000abcd`, value, time: Date.now() }), { qos: 1 });
  };

  const b = spawnB();
  await b.waitStarted();
  await b.waitForLog((l) => l.msg === 'device button1 of gateway X added', { what: "X's device on B" });
  // The Jeedom host has found its callback down, once: B's journal is quiet from here on.
  await b.waitForLog((l) => l.host === 'jeedom' && /unreachable|refused|ECONNREFUSED/i.test(String(l.msg)), { what: "the Jeedom host's callback down" });
  const hold = await JournalHold.start(b.child.pid as number, join(dir.path, 'b', 'journal'));
  cleanups.push(() => hold.release());
  const from = tap.published.length;
  await press('first-press');
  const publish = await tap.waitPublish(topic, from);
  // B has taken the event in and is writing it to its journal: held there.
  expect((await hold.held()).toString('utf8')).toContain('first-press');
  // Anything B sent before it stopped is in the tap's socket by now: one turn of the loop reads it.
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  return { b, spawnB, hold, tap, publish, press, callbackPort, dir };
}

describe('cluster - acknowledgements after the journal (19.6)', () => {
  it('cluster acks - B sends the PUBACK of a message only once its journal has what the message carried', async () => {
    const { hold, tap, publish } = await eventHeldInB();
    expect(tap.acked).not.toContain(publish.packetId);
    await hold.release();
    await tap.waitAck(publish.packetId);
    expect(readFileSync(hold.segment, 'utf8')).toContain('first-press');
  }, PROCESS_TEST_MS);

  it('cluster acks - B killed -9 after taking a momentary event in, before its journal has it, gets it again from the broker when it restarts; its host gets it once', async () => {
    const { b, spawnB, hold, press, callbackPort, dir } = await eventHeldInB();
    b.child.kill('SIGKILL');
    // The kill is pending in the held write, which it cuts short; the process's exit waits for
    // its tracer to let go.
    await hold.release();
    await b.exited;
    // The kill came before the write: this run's journal never had the event.
    expect(readFileSync(hold.segment, 'utf8')).not.toContain('first-press');

    const callback = await JeedomCallback.start({ port: callbackPort, apikey: APIKEY, dir: dir.path });
    cleanups.push(() => callback.stop());
    const again = spawnB();
    await again.waitStarted();
    const times = (value: string) => callback.bodies().reduce((n, body) => n + JSON.stringify(body).split(`"${value}"`).length - 1, 0);
    await callback.waitFor((body) => (JSON.stringify(body).includes('"first-press"') ? true : undefined), 'the event from before the kill');
    // A later event behind it: had the first come twice, it would be in by then.
    await press('second-press');
    await callback.waitFor((body) => (JSON.stringify(body).includes('"second-press"') ? true : undefined), 'the next event');
    expect(times('first-press')).toBe(1);
    expect(times('second-press')).toBe(1);
  }, PROCESS_TEST_MS);
});
