import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBus } from '../src/transport/bus/index.js';
import type { PeerEvent } from './pythonPeer.js';
import { awaitService, service, startRig } from './rig.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe('domogik broker restart', () => {
  it('domogik - acceptance §11.20: broker restarted under load: the worker re-registers within 10 s, later requests are answered, none twice', async () => {
    const r = await startRig(cleanups, { admin: false, adapter: { configService: 'none', commands: { 'thermo1.relay': 80 } } });
    await awaitService(r.peer, service);
    const results: PeerEvent[] = [];
    let running = true;
    // Three xplgw-like clients sending client.cmd back to back, each with a 2 s timeout.
    const loops = [0, 1, 2].map(async (k) => {
      let v = k;
      while (running) results.push(await r.peer.request({ service, action: 'client.cmd', data: { command_id: 80, value: String(v++ % 2) }, timeout: 2 }));
    });
    const answered = () => results.filter((e) => e.event === 'reply').length;
    await r.peer.waitFor(() => answered() >= 30, { what: '30 answered commands before the restart' });
    const ports = r.ports;
    await r.bus.stop();
    const bus = new EmbeddedBus({ ...ports });
    await bus.start();
    cleanups.push(() => bus.stop());
    const restartedAt = Date.now();
    await awaitService(r.peer, service, 10_000);
    expect(Date.now() - restartedAt).toBeLessThan(10_000);
    const before = answered();
    await r.peer.waitFor(() => answered() >= before + 30, { what: '30 answered commands after the restart', timeoutMs: 15_000 });
    running = false;
    await Promise.all(loops);
    // One outcome per request id; every reply the brokers forwarded reached exactly one request.
    const ids = results.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    const replies = results.filter((e) => e.event === 'reply');
    expect(replies.every((e) => e.action === 'client.cmd.result' && e.data?.status === true)).toBe(true);
    // A reply the broker forwarded may reach a client that just timed out; it never reaches two.
    const forwarded = r.bus.broker.stats.replies + bus.broker.stats.replies;
    const timeouts = results.length - replies.length;
    expect(replies.length).toBeLessThanOrEqual(forwarded);
    expect(forwarded - replies.length).toBeLessThanOrEqual(timeouts);
    expect(bus.broker.stats.replies).toBeLessThanOrEqual(bus.broker.stats.requests);
    expect(r.log.counters.get('patchbay_domogik_worker_reconnects_total')).toBeGreaterThanOrEqual(1);
  });
});
