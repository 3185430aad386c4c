import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PhpCallback, sendRaw, type CallbackRecord } from './peer.js';
import { APIKEY, startRig, type Rig } from './rig.js';

type Decoded = { devices?: Record<string, Record<string, unknown>>; replies?: Record<string, { ok: boolean; value?: unknown; error?: unknown }> };
const decoded = (r: CallbackRecord): Decoded => (r.decoded ?? {}) as Decoded;

function command(fields: Record<string, unknown>): string {
  return JSON.stringify({ action: 'command', device: 'dev1', channel: 'relay', ...fields, apikey: APIKEY });
}

describe('jeedom - acceptance', () => {
  let rig: Rig | undefined;
  let peer: PhpCallback | undefined;
  let reporter: NodeJS.Timeout | undefined;
  afterEach(async () => {
    clearInterval(reporter);
    await rig?.stop();
    await peer?.close();
    rig = undefined;
    peer = undefined;
  });

  // JEEDOM_OUTAGE_MS=60000 runs the 60 s version (the fault suite's).
  const outageMs = Number(process.env.JEEDOM_OUTAGE_MS ?? 3000);
  it('jeedom - acceptance 2: callback down while the device reports every 100 ms: the latest value of every channel and every reply arrive', async () => {
    peer = await PhpCallback.start();
    rig = await startRig({ callback: peer.url, cycle: 0.3 });
    const r = rig;
    let tick = 0;
    reporter = setInterval(() => {
      tick++;
      r.driver.emit('temperature', 20 + tick / 100);
      r.driver.emit('humidity', tick);
      r.driver.emit('counter', tick);
    }, 100);
    await peer.waitFor((rs) => rs.find((x) => decoded(x).devices?.dev1?.counter !== undefined), 'live state');
    await peer.stop();
    const down = Date.now();
    // Commands keep coming from Jeedom while its callback is down: their replies must wait.
    const ids: string[] = [];
    let n = 0;
    while (Date.now() - down < outageMs) {
      const id = `down-${n}`;
      ids.push(id);
      await sendRaw(rig.port(), command({ value: n % 2 === 0, id }));
      await rig.waitCommands(ids.length);
      n++;
      await new Promise((resolve) => setTimeout(resolve, Math.min(250, outageMs / 4)));
    }
    clearInterval(reporter);
    const final = { temperature: 20 + tick / 100, humidity: tick, counter: tick };
    expect(rig.gateway.health().hosts.find((h) => h.id === 'jeedom')?.queued).toBeGreaterThan(0);
    await peer.restart();
    await peer.waitFor(() => (peer?.latest('dev1', 'counter') === final.counter ? true : undefined), `counter ${final.counter}`, 20_000);
    expect(peer.latest('dev1', 'temperature')).toBe(final.temperature);
    expect(peer.latest('dev1', 'humidity')).toBe(final.humidity);
    const replies = await peer.waitFor((rs) => {
      const seen = new Set(rs.filter((x) => x.answered === 200).flatMap((x) => Object.keys(decoded(x).replies ?? {})));
      return ids.every((id) => seen.has(id)) ? seen : undefined;
    }, 'every reply', 20_000);
    expect(ids.filter((id) => !replies.has(id))).toEqual([]);
  }, outageMs + 60_000);

  it('jeedom - acceptance 3: wrong apikey, non-JSON, 1 MiB, empty and stalled connections each log one line and the others are served', async () => {
    rig = await startRig({ idleTimeoutMs: 1500 });
    const port = rig.port();
    const stalled = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve) => stalled.once('connect', () => resolve()));
    stalled.write('{"apikey":');
    const stalledClosed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
    const bad = [
      sendRaw(port, JSON.stringify({ action: 'command', device: 'dev1', channel: 'relay', value: 1, apikey: 'wrong' })),
      sendRaw(port, 'not json at all'),
      sendRaw(port, ''),
    ];
    const good = Array.from({ length: 20 }, (_, i) => sendRaw(port, command({ value: i, id: `g${i}` })));
    const big = sendRaw(port, command({ channel: 'blob', value: 'z'.repeat(1024 * 1024), id: 'big' }));
    await Promise.all([...bad, ...good, big]);
    const commands = await rig.waitCommands(21);
    expect(commands.map((c) => c.ref).sort()).toEqual(['big', ...Array.from({ length: 20 }, (_, i) => `g${i}`)].sort());
    await stalledClosed;
    await rig.logger.waitFor(/stalled/, { level: 'error' });
    const errors = rig.logger.find(/./, 'error').map((l) => l.message);
    expect(errors).toHaveLength(4);
    expect(errors.filter((m) => /Invalid apikey/.test(m))).toHaveLength(1);
    expect(errors.filter((m) => /not JSON/.test(m))).toHaveLength(1);
    expect(errors.filter((m) => /Empty message/.test(m))).toHaveLength(1);
    expect(errors.filter((m) => /stalled/.test(m))).toHaveLength(1);
    expect(rig.metrics.get('patchbay_jeedom_rejected_messages_total')).toBe(4);
  });
});
