import { join } from 'node:path';
import { createGateway, type Adapter, type AdapterDefinition } from '@patchbay/core';
import sim from '@patchbay/driver-sim';
import { captureLogger, FakeHost, tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import tracimAdapter from '../src/index.js';
import type { TracimMaster } from '../src/internal.js';
import { startPyPeer, type PyPeer } from './helpers.js';

/** A state TLM's fields; an availability TLM has none of channel and value. */
interface Fields {
  device: string;
  channel?: string;
  value?: unknown;
}

describe('tracim - acceptance: three Python clients and a simulated device', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void>)().catch(() => undefined);
  });

  it('tracim - every client gets every state change in order; one killed without unregistering is dropped within 2 ping periods and the others miss nothing', async () => {
    const P = 1500;
    const dir = tempDir('pb-tracim-acc-');
    cleanups.push(async () => dir.remove());
    const masterPath = join(dir.path, 'master.sock');
    const logger = captureLogger({ levels: 'info' });
    let master: TracimMaster | undefined;
    const definition: AdapterDefinition = {
      ...tracimAdapter,
      create(config, ctx) {
        master = tracimAdapter.create(config as never, ctx) as unknown as TracimMaster;
        return master as unknown as Adapter;
      },
    };
    const witness = new FakeHost();
    const gateway = createGateway({
      devices: [{ id: 'thermo1', definition: sim, options: { interval: 100 } }],
      hosts: [
        { id: 'tracim', definition, options: { socketPath: masterPath, pingInterval: P } },
        { id: 'witness', definition: witness.definition },
      ],
      logger,
    });
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 200 }));
    await gateway.start();
    const peers: PyPeer[] = [];
    for (const name of ['a', 'b', 'c']) {
      const p = await startPyPeer({ master: masterPath, path: join(dir.path, `${name}.sock`) });
      cleanups.push(() => p.kill());
      peers.push(p);
      // Its snapshot (the sim's description, then its 3 channels) comes first.
      await p.waitFor('daemon_tracim_event', 4);
    }
    const [a, b, c] = peers as [PyPeer, PyPeer, PyPeer];
    const tlms = (p: PyPeer) => p.received('daemon_tracim_event').map((m) => JSON.parse(m.data as string) as { event_id: number; fields: Fields });
    // Every live TLM is numbered once and sent to every client, so after the last registration
    // snapshot a client that misses nothing sees consecutive event ids.
    const lastSnapshotId = Math.max(...tlms(c).slice(0, 4).map((t) => t.event_id));
    const live = (p: PyPeer) => tlms(p).filter((t) => t.event_id > lastSnapshotId);
    await c.waitUntil(() => (live(c).length >= 10 ? true : undefined), '10 live state changes at c');
    await c.kill('SIGKILL');
    const killedAt = Date.now();
    await logger.waitFor(/c\.sock removed: no pong/, { timeoutMs: 4 * P });
    // Removed after at most 2 P of silence; the slack (scheduling on a loaded machine) stays under
    // P, so a removal after 3 P would still fail.
    expect(Date.now() - killedAt).toBeLessThanOrEqual(2 * P + 1000);
    expect(master?.listClients().map((x) => x.path)).toEqual([a.path, b.path]);
    // Keep going for another second of reports after the removal.
    const target = live(a).length + 20;
    for (const p of [a, b]) await p.waitUntil(() => (live(p).length >= target ? true : undefined), `${target} live state changes`, 10_000);
    for (const p of [a, b]) {
      const ids = live(p).map((t) => t.event_id);
      expect(ids[0]).toBe(lastSnapshotId + 1);
      expect(ids).toEqual(ids.map((_, i) => lastSnapshotId + 1 + i));
    }
    // Both survivors saw the same sequence of values, and it matches the device's reports. State
    // TLMs only: on a loaded machine a late report can make the device stale and online again,
    // and those availability TLMs (numbered like the rest) reach both survivors too.
    const values = (p: PyPeer) => live(p).slice(0, target).filter((t) => t.fields.channel !== undefined).map((t) => [t.fields.channel, t.fields.value]);
    expect(values(a)).toEqual(values(b));
    const reported = witness.delivered.flatMap((e) => (e.kind === 'state' ? [JSON.stringify([e.channel, e.value])] : [])).join('|');
    expect(reported).toContain(values(a).map((v) => JSON.stringify(v)).join('|'));
    const cLive = live(c).map((t) => t.event_id);
    expect(cLive).toEqual(cLive.map((_, i) => lastSnapshotId + 1 + i));
    expect(a.records.filter((r) => r.ev === 'error')).toEqual([]);
    expect(b.records.filter((r) => r.ev === 'error')).toEqual([]);
  }, 30_000);
});
