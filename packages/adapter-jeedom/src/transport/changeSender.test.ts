import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChangeSender } from './changeSender.js';
import { ChangeTree } from '../protocol/changeTree.js';

/** A post function that records bodies and answers as told. */
function recorder() {
  const bodies: string[] = [];
  let fail = false;
  let gate: Promise<void> | undefined;
  return {
    bodies,
    failNext(value: boolean) {
      fail = value;
    },
    hold(promise: Promise<void> | undefined) {
      gate = promise;
    },
    post: async (body: string) => {
      bodies.push(body);
      if (gate) await gate;
      if (fail) throw new Error('callback down');
    },
  };
}

describe('jeedom - cycle and immediate sending (§4.5)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('jeedom - §10.32 changes within one window go in a single POST about one cycle later; none while idle', async () => {
    const r = recorder();
    const sender = new ChangeSender({ post: r.post, cycleMs: 300 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(r.bodies).toEqual([]);
    const a = sender.add('devices::abc::temperature', 21.5);
    await vi.advanceTimersByTimeAsync(50);
    const b = sender.add('devices::abc::humidity', 40);
    expect(r.bodies).toEqual([]);
    await vi.advanceTimersByTimeAsync(300);
    await Promise.all([a, b]);
    expect(r.bodies).toEqual(['{"devices": {"abc": {"temperature": 21.5, "humidity": 40}}}']);
    await vi.advanceTimersByTimeAsync(3000);
    expect(r.bodies).toHaveLength(1);
    sender.stop();
  });

  it('jeedom - §10.35 changes added while a flush is in flight go in the next flush', async () => {
    const r = recorder();
    const sender = new ChangeSender({ post: r.post, cycleMs: 300 });
    let release!: () => void;
    r.hold(new Promise<void>((resolve) => (release = resolve)));
    const first = sender.add('devices::a::x', 1);
    await vi.advanceTimersByTimeAsync(300);
    expect(r.bodies).toHaveLength(1);
    const second = sender.add('devices::a::x', 2);
    await vi.advanceTimersByTimeAsync(900);
    expect(r.bodies).toHaveLength(1);
    r.hold(undefined);
    release();
    await first;
    await vi.advanceTimersByTimeAsync(300);
    await second;
    expect(r.bodies).toEqual(['{"devices": {"a": {"x": 1}}}', '{"devices": {"a": {"x": 2}}}']);
    sender.stop();
  });

  it('jeedom - a failed flush rejects its adds (so the outbox keeps them)', async () => {
    const r = recorder();
    r.failNext(true);
    const sender = new ChangeSender({ post: r.post, cycleMs: 300 });
    const add = sender.add('devices::a::x', 1);
    const outcome = add.then(
      () => 'resolved',
      () => 'rejected',
    );
    await vi.advanceTimersByTimeAsync(300);
    expect(await outcome).toBe('rejected');
    sender.stop();
  });

  it('jeedom - §10.36 with cycle 0 each add is posted at once as its own nested object', async () => {
    for (const cycleMs of [0, -1000]) {
      const r = recorder();
      const sender = new ChangeSender({ post: r.post, cycleMs });
      await Promise.all([sender.add('devices::abc::temperature', 21.5), sender.add('devices::abc::humidity', 40)]);
      expect(r.bodies).toEqual(['{"devices": {"abc": {"temperature": 21.5}}}', '{"devices": {"abc": {"humidity": 40}}}']);
      sender.stop();
    }
  });

  it('jeedom - with cycle 0 changes handed over together share a body, which ends before one that would overwrite a change it holds', async () => {
    const r = recorder();
    const sender = new ChangeSender({ post: r.post, cycleMs: 0 });
    await sender.addMany([
      [['devices', 'a', 't'], 1],
      [['devices', 'b', 't'], 2],
      [['events'], { device: 'a', channel: 'press', value: null, time: 1 }, 'append'],
      [['events'], { device: 'b', channel: 'press', value: null, time: 2 }, 'append'],
      [['replies', 'r1'], { ok: true, value: null }],
      // The same path again: a second body, so the first value is not lost.
      [['devices', 'a', 't'], 3],
      [['descriptions', 'a'], { name: 'A' }, 'replace'],
      // A path inside one the body holds: a third.
      [['descriptions', 'a', 'name'], 'B'],
    ]);
    expect(r.bodies).toEqual([
      '{"devices": {"a": {"t": 1}, "b": {"t": 2}}, "events": [{"device": "a", "channel": "press", "value": null, "time": 1}, {"device": "b", "channel": "press", "value": null, "time": 2}], "replies": {"r1": {"ok": true, "value": null}}}',
      '{"devices": {"a": {"t": 3}}, "descriptions": {"a": {"name": "A"}}}',
      '{"descriptions": {"a": {"name": "B"}}}',
    ]);
    // One change alone is the reference's one-entry object.
    await sender.addMany([[['devices', 'a', 't'], 4]]);
    expect(r.bodies.at(-1)).toBe('{"devices": {"a": {"t": 4}}}');
    sender.stop();
  });

  it('jeedom - §10.37 an immediate send does not wait for the cycle timer', async () => {
    const r = recorder();
    const sender = new ChangeSender({ post: r.post, cycleMs: 30_000 });
    const tree = new ChangeTree();
    tree.add('started', 1);
    await sender.sendImmediate(tree);
    expect(r.bodies).toEqual(['{"started": 1}']);
    sender.stop();
  });

  it('jeedom - stop fails whatever waits for a flush', async () => {
    const r = recorder();
    const sender = new ChangeSender({ post: r.post, cycleMs: 300 });
    const add = sender.add('a', 1);
    sender.stop();
    await expect(add).rejects.toThrow(/stopping/);
    await vi.advanceTimersByTimeAsync(1000);
    expect(r.bodies).toEqual([]);
  });
});
