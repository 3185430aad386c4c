import { ErrorCodes, type OutboundEvent } from '@patchbay/core';
import { FakeDriver } from '@patchbay/testing';
import { describe, expect, it } from 'vitest';
import { clusterName, startMember, useBroker, type Member } from './rig.js';

const { broker: mosquitto, cleanups } = useBroker();

async function member(options: Omit<Parameters<typeof startMember>[0], 'url'>): Promise<Member> {
  const m = await startMember({ url: mosquitto().url, ...options });
  cleanups.push(() => m.stop());
  return m;
}

const isState = (device: string, channel: string) => (e: OutboundEvent) => e.kind === 'state' && e.device === device && e.channel === channel;

describe('cluster - in-process gateways over mosquitto', () => {
  it('cluster - A publishes its device; a host on B sees it with origin A, its description and its states (19.2, 19.3)', async () => {
    const cluster = clusterName();
    const a = await member({ cluster, name: 'A', sim: ['thermo1'] });
    const b = await member({ cluster, name: 'B' });
    await b.host.waitFor((e) => e.kind === 'description' && e.device === 'thermo1', { timeoutMs: 10_000, what: "A's description on B" });
    await b.host.waitFor(isState('thermo1', 'temperature'), { timeoutMs: 10_000, what: "A's temperature on B" });
    const info = b.host.ctx?.devices().find((d) => d.id === 'thermo1');
    expect(info?.origin).toBe('A');
    expect(info?.availability).toBe('online');
    expect(b.gateway.health().devices.find((d) => d.id === 'thermo1')?.origin).toBe('A');
    // A's own host sees its device as local; B's cluster link is not handed the remote one.
    expect(a.host.ctx?.devices().find((d) => d.id === 'thermo1')?.origin).toBeUndefined();
    expect(b.cluster.health()?.gateways).toEqual([
      { id: 'B', status: 'online', self: true, devices: [] },
      { id: 'A', status: 'online', devices: ['thermo1'] },
    ]);
    const link = b.gateway.health().hosts.find((h) => h.id === 'cluster');
    expect(link).toMatchObject({ connected: true, peers: 1 });
    expect(link?.connection).toContain('A online');
  });

  it('cluster - a command from a host on B reaches the device on A, runs through A\'s core, and gets exactly one reply (19.4)', async () => {
    const cluster = clusterName();
    const a = await member({ cluster, name: 'A', sim: ['thermo1'] });
    const b = await member({ cluster, name: 'B' });
    await b.host.waitFor((e) => e.kind === 'availability' && e.device === 'thermo1' && e.availability === 'online', { timeoutMs: 10_000, what: 'thermo1 online on B' });
    const reply = await b.host.submit({ device: 'thermo1', channel: 'relay', value: true }, { deliverReply: true });
    expect(reply).toMatchObject({ ok: true, value: true });
    await a.host.waitFor((e) => isState('thermo1', 'relay')(e) && (e as { value: unknown }).value === true, { what: 'the relay switched on A' });
    await b.host.waitFor((e) => isState('thermo1', 'relay')(e) && (e as { value: unknown }).value === true, { timeoutMs: 10_000, what: 'the relay state back on B' });
    // A's own checks: the relay takes booleans, temperature is read-only.
    const readOnly = await b.host.submit({ device: 'thermo1', channel: 'temperature', value: 3 });
    expect(readOnly).toMatchObject({ ok: false, code: ErrorCodes.READ_ONLY });
    const action = await b.host.submit({ device: 'thermo1', action: 'refresh' });
    expect(action.ok).toBe(true);
    // One reply each in B's host outbox, none twice.
    await b.host.waitFor((e) => e.kind === 'reply' && e.commandId === reply.commandId, { what: 'the reply delivered' });
    expect(b.host.delivered.filter((e) => e.kind === 'reply' && e.commandId === reply.commandId)).toHaveLength(1);
  });

  it('cluster - a device on A that does not answer: B\'s host gets one PB203 timeout reply; a device whose gateway is offline gets PB204 at once (19.4)', async () => {
    const cluster = clusterName();
    const driver = new FakeDriver();
    driver.answer = () => new Promise(() => undefined);
    const a = await member({ cluster, name: 'A', fake: { driver, ids: ['mute1'] }, commandTimeoutMs: 800 });
    const b = await member({ cluster, name: 'B', commandTimeoutMs: 800 });
    await driver.waitRunning();
    driver.emit('level', 1);
    await b.host.waitFor(isState('mute1', 'level'), { timeoutMs: 10_000, what: 'mute1 on B' });
    const started = Date.now();
    const reply = await b.host.submit({ device: 'mute1', channel: 'level', value: 2 });
    expect(reply).toMatchObject({ ok: false, code: ErrorCodes.COMMAND_TIMEOUT });
    expect(Date.now() - started).toBeLessThan(3000);
    await a.stop();
    await b.host.waitFor((e) => e.kind === 'availability' && e.device === 'mute1' && e.availability === 'offline', { timeoutMs: 10_000, what: 'mute1 offline on B' });
    const gone = await b.host.submit({ device: 'mute1', channel: 'level', value: 2 });
    expect(gone).toMatchObject({ ok: false, code: ErrorCodes.DEVICE_UNAVAILABLE });
    expect(gone.error).toContain('gateway A');
  });

  it('cluster - the owning gateway restarted while a command was in flight: the asker gets one PB210 reply at once, not a timeout (19.4)', async () => {
    const cluster = clusterName();
    const driver = new FakeDriver();
    let reached: () => void = () => undefined;
    const atDevice = new Promise<void>((resolve) => (reached = resolve));
    driver.answer = () => {
      reached();
      return new Promise(() => undefined);
    };
    const a = await member({ cluster, name: 'A', fake: { driver, ids: ['slow1'] } });
    const b = await member({ cluster, name: 'B', commandTimeoutMs: 20_000 });
    await driver.waitRunning();
    driver.emit('level', 1);
    await b.host.waitFor(isState('slow1', 'level'), { timeoutMs: 10_000, what: 'slow1 on B' });
    const asked = b.host.submit({ device: 'slow1', channel: 'level', value: 2 });
    await atDevice;
    await a.stop();
    const started = Date.now();
    const again = await member({ cluster, name: 'A', fake: { driver, ids: ['slow1'] } });
    expect(again.name).toBe('A');
    const reply = await asked;
    expect(reply).toMatchObject({ ok: false, code: ErrorCodes.GATEWAY_RESTARTED });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(driver.commands).toHaveLength(1);
  });

  it('cluster - a command waiting on another gateway when the asking gateway stops gets one PB209 reply at once, and the stop does not wait for its drain deadline (19.4)', async () => {
    const cluster = clusterName();
    const driver = new FakeDriver();
    let reached: () => void = () => undefined;
    const atDevice = new Promise<void>((resolve) => (reached = resolve));
    driver.answer = () => {
      reached();
      return new Promise(() => undefined);
    };
    await member({ cluster, name: 'A', fake: { driver, ids: ['slow2'] } });
    const b = await member({ cluster, name: 'B', commandTimeoutMs: 30_000 });
    await driver.waitRunning();
    driver.emit('level', 1);
    await b.host.waitFor(isState('slow2', 'level'), { timeoutMs: 10_000, what: 'slow2 on B' });
    const asked = b.host.submit({ device: 'slow2', channel: 'level', value: 2 });
    await atDevice;
    const stopping = b.stop();
    const reply = await asked;
    await stopping;
    expect(reply).toMatchObject({ ok: false, code: ErrorCodes.GATEWAY_STOPPING });
    // Answered when its stand-in stopped, so the stop did not wait for its drain deadline.
    expect(b.log.find(/^drain deadline/)).toEqual([]);
  });

  it('cluster - a reload that restarts the link (new cluster options) shows the remote devices again, wired to the new link (19.1, 19.3)', async () => {
    const cluster = clusterName();
    await member({ cluster, name: 'A', sim: ['thermo1'] });
    const b = await member({ cluster, name: 'B' });
    await b.host.waitFor((e) => e.kind === 'availability' && e.device === 'thermo1' && e.availability === 'online', { timeoutMs: 10_000, what: 'thermo1 online on B' });
    const first = b.cluster.current();
    await b.reloadCluster({ reconnectMs: 300 });
    expect(b.cluster.current()).not.toBe(first);
    const mark = b.host.delivered.length;
    await b.host.waitFor((e) => b.host.delivered.indexOf(e) >= mark && e.kind === 'state' && e.device === 'thermo1', { timeoutMs: 10_000, what: 'thermo1 states after the reload' });
    expect(await b.host.submit({ device: 'thermo1', channel: 'relay', value: true })).toMatchObject({ ok: true, value: true });
    expect(b.cluster.health()?.refused).toEqual([]);
  });

  it('cluster - a device id announced by a second gateway is refused there: logged, in /healthz, ignored by the others; the first keeps it across its restart (19.3)', async () => {
    const cluster = clusterName();
    const a = await member({ cluster, name: 'A', sim: ['thermo1'] });
    const b = await member({ cluster, name: 'B' });
    await b.host.waitFor((e) => e.kind === 'description' && e.device === 'thermo1', { timeoutMs: 10_000, what: "A's thermo1 on B" });
    const c = await member({ cluster, name: 'C', sim: ['thermo1'] });
    await c.log.waitFor(/not shared with the cluster: gateway "A" announced that id first/, { timeoutMs: 10_000 });
    await b.log.waitFor(/announced by gateway "C" is already held by gateway "A"/, { timeoutMs: 10_000 });
    expect(b.cluster.health()?.refused).toEqual([expect.objectContaining({ device: 'thermo1', gateway: 'C', heldBy: 'A' })]);
    expect(c.cluster.health()?.refused).toEqual([expect.objectContaining({ device: 'thermo1', gateway: 'C', heldBy: 'A' })]);
    expect(b.host.ctx?.devices().find((d) => d.id === 'thermo1')?.origin).toBe('A');
    // C keeps its own device for its own hosts; its states never reach B.
    expect(c.host.ctx?.devices().find((d) => d.id === 'thermo1')?.origin).toBeUndefined();
    await c.host.waitFor(isState('thermo1', 'temperature'), { what: "C's own temperature" });
    expect(b.cluster.health()?.gateways.find((g) => g.id === 'C')?.devices).toEqual([]);
    expect(c.cluster.health()?.gateways.find((g) => g.self)?.devices).toEqual([]);

    // A restarts: its claim keeps its age (read back from the broker), so it still holds the id.
    await a.stop();
    const again = await member({ cluster, name: 'A', sim: ['thermo1'] });
    await again.host.waitFor(isState('thermo1', 'temperature'), { what: "A's temperature after its restart" });
    const mark = b.host.delivered.length;
    await b.host.waitFor((e) => b.host.delivered.indexOf(e) >= mark && e.kind === 'availability' && e.device === 'thermo1' && e.availability === 'online', { timeoutMs: 10_000, what: "A's thermo1 online again on B" });
    expect(b.host.ctx?.devices().find((d) => d.id === 'thermo1')?.origin).toBe('A');
    expect(again.cluster.health()?.refused).toEqual([expect.objectContaining({ device: 'thermo1', gateway: 'C', heldBy: 'A' })]);
    expect(again.cluster.health()?.gateways.find((g) => g.self)?.devices).toEqual(['thermo1']);
  });
});
