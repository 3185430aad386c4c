import { describe, expect, it } from 'vitest';
import type { Adapter } from './definitions.js';
import { ErrorCodes, PatchbayError } from './errors.js';
import type { OutboundEvent, StateEvent } from './events.js';
import { defaultOutboxOptions, Outbox } from './outbox.js';

const state = (value: number, channel = 't'): StateEvent => ({ kind: 'state', id: `s${value}`, time: value, origin: 'dev', device: 'dev', channel, value });

function outbox(maxPendingReplies = defaultOutboxOptions.maxPendingReplies) {
  const acks: number[] = [];
  const box = new Outbox({ ...defaultOutboxOptions, maxPendingReplies, backoff: { delays: [1], jitter: 0 } }, { onAck: (seq) => acks.push(seq), onReachability: () => undefined, onRejected: () => undefined });
  return { box, acks };
}

function adapter(deliver: (event: OutboundEvent) => Promise<void> | void): Adapter {
  return { start: () => undefined, stop: () => undefined, deliver };
}

describe('outbox', () => {
  it('outbox - an event pushed from inside deliver (fast path) is queued behind it, not delivered in its middle', () => {
    const { box, acks } = outbox();
    const got: number[] = [];
    box.attach(
      adapter((event) => {
        got.push((event as StateEvent).value as number);
        // The adapter submits, the driver answers at once and emits: a re-entrant push.
        if (event.id === 's1') box.push(state(2), 2);
      }),
    );
    box.push(state(1), 1);
    expect(got).toEqual([1]);
    // Only what was delivered is acknowledged.
    expect(acks).toEqual([1]);
    return box.whenIdle().then(() => {
      expect(got).toEqual([1, 2]);
      expect(acks.at(-1)).toBe(2);
    });
  });

  it('outbox - a state pushed while a queued slot is being delivered is not coalesced into that slot', async () => {
    const { box } = outbox();
    const got: number[] = [];
    let down = true;
    box.attach(
      adapter((event) => {
        if (down) throw new PatchbayError(ErrorCodes.HOST_UNREACHABLE, 'down');
        got.push((event as StateEvent).value as number);
        if (event.id === 's1') box.push(state(2), 2);
      }),
    );
    box.push(state(1), 1);
    down = false;
    await box.whenIdle();
    expect(got).toEqual([1, 2]);
  });

  it('outbox - an asynchronous delivery that fails after a re-entrant push keeps its place in front', async () => {
    const { box } = outbox();
    const got: number[] = [];
    let attempts = 0;
    box.attach(
      adapter((event) => {
        if (event.id === 's1' && attempts++ === 0) {
          box.push(state(2, 'u'), 2);
          return Promise.reject(new PatchbayError(ErrorCodes.HOST_UNREACHABLE, 'flaky'));
        }
        got.push((event as StateEvent).value as number);
      }),
    );
    box.push(state(1), 1);
    await box.whenIdle();
    expect(got).toEqual([1, 2]);
  });

  it('outbox - a delivery that never settles does not hold the host once the adapter is replaced', async () => {
    const { box } = outbox();
    box.attach(adapter(() => new Promise<void>(() => undefined)));
    box.push(state(1), 1);
    box.push(state(2, 'u'), 2);
    expect(box.queued).toBe(2);
    // The adapter crashed and was restarted: the new one gets everything, the hung one nothing more.
    box.detach();
    const got: number[] = [];
    box.attach(adapter((event) => void got.push((event as StateEvent).value as number)));
    await box.whenIdle();
    expect(got).toEqual([1, 2]);
  });

  it('outbox - rebase gives every waiting slot a new number, latest values included, and acks up to the first', async () => {
    const { box, acks } = outbox();
    // No adapter yet: everything waits, and the temperatures coalesce into slot 1.
    box.push(state(1, 'temperature'), 1);
    box.push(state(2, 'humidity'), 2);
    box.push(state(3, 'temperature'), 3);
    const stamped: [number, number][] = [];
    let next = 100;
    box.rebase((event) => {
      stamped.push([++next, (event as StateEvent).value as number]);
      return next;
    });
    // In queue order, with the value each slot holds now.
    expect(stamped).toEqual([
      [101, 3],
      [102, 2],
    ]);
    expect(acks.at(-1)).toBe(100);
    const got: number[] = [];
    box.attach(adapter((event) => void got.push((event as StateEvent).value as number)));
    await box.whenIdle();
    expect(got).toEqual([3, 2]);
    // Emptied: the cursor lands on the last new number, not on the older `3` last pushed.
    expect(acks.at(-1)).toBe(102);
  });

  it('outbox - reserved replies count against maxPendingReplies until released', () => {
    const { box } = outbox(2);
    expect(box.reserveReply()).toBe(true);
    expect(box.reserveReply()).toBe(true);
    expect(box.reserveReply()).toBe(false);
    expect(box.hasRoomForReply).toBe(false);
    box.releaseReply();
    expect(box.hasRoomForReply).toBe(true);
  });

  it('outbox - a batch refused with EVENT_REJECTED is retried event by event: only the bad one is dropped', async () => {
    const rejected: OutboundEvent[] = [];
    const box = new Outbox({ ...defaultOutboxOptions, backoff: { delays: [1], jitter: 0 } }, { onAck: () => undefined, onReachability: () => undefined, onRejected: (event) => void rejected.push(event) });
    const got: number[] = [];
    const refuse = (event: OutboundEvent) => (event as StateEvent).value === 3;
    let batches = 0;
    box.attach({
      start: () => undefined,
      stop: () => undefined,
      deliver: (event) => {
        if (refuse(event)) throw new PatchbayError(ErrorCodes.EVENT_REJECTED, 'value 3 is not allowed');
        got.push((event as StateEvent).value as number);
      },
      deliverBatch: (events) => {
        batches++;
        if (events.some(refuse)) throw new PatchbayError(ErrorCodes.EVENT_REJECTED, 'a value in the batch is not allowed');
        for (const event of events) got.push((event as StateEvent).value as number);
      },
    });
    for (let i = 1; i <= 5; i++) box.push(state(i, `c${i}`), i);
    await box.whenIdle();
    expect(got).toEqual([1, 2, 4, 5]);
    expect(rejected.map((e) => (e as StateEvent).value)).toEqual([3]);
    expect(box.failed).toBe(1);
    // Afterwards batches are used again.
    const before = batches;
    for (let i = 6; i <= 7; i++) box.push(state(i, `c${i}`), i);
    await box.whenIdle();
    expect(got).toEqual([1, 2, 4, 5, 6, 7]);
    expect(batches).toBe(before + 1);
  });
});

describe('outbox - latency figures (14.1)', () => {
  it('outbox - (14.1) observes each delivered event\'s wait: 0 when the idle host takes it at once, the time queued otherwise; reports the oldest wait', async () => {
    const seen: number[] = [];
    let release: (() => void) | undefined;
    const box = new Outbox(
      { ...defaultOutboxOptions, backoff: { delays: [1], jitter: 0 } },
      { onAck: () => undefined, onReachability: () => undefined, onRejected: () => undefined, latency: { observe: (v) => seen.push(v) } },
    );
    let hold = false;
    box.attach(adapter(() => (hold ? new Promise<void>((resolve) => (release = resolve)) : undefined)));
    box.push(state(1), 1);
    expect(seen).toEqual([0]);
    expect(box.oldestQueuedMs).toBe(0);
    hold = true;
    box.push(state(2), 2);
    box.push(state(3, 'u'), 3);
    const since = performance.now();
    while (performance.now() - since < 20) await new Promise((resolve) => setImmediate(resolve));
    expect(box.oldestQueuedMs).toBeGreaterThanOrEqual(19);
    hold = false;
    (release as () => void)();
    await box.whenIdle();
    expect(seen).toHaveLength(3);
    expect(seen[1]).toBeGreaterThanOrEqual(0.019);
    expect(box.oldestQueuedMs).toBe(0);
  });

  it('outbox - events routed to several outboxes in turn coalesce in each by their own device and channel', async () => {
    const boxes = [outbox().box, outbox().box];
    const a1 = state(1, 'a');
    const b1 = state(2, 'b');
    const a2 = state(3, 'a');
    const status: OutboundEvent = { kind: 'status', id: 'st', time: 4, origin: 'a', endpoint: 'dev', status: 'alive', reason: undefined };
    let seq = 0;
    // As the router hands them: one event to every outbox, then the next.
    for (const event of [a1, b1, a2, status, b1]) {
      seq++;
      for (const box of boxes) box.push(event, seq);
    }
    for (const box of boxes) {
      expect(box.queued).toBe(3);
      const got: OutboundEvent[] = [];
      box.attach(adapter((event) => void got.push(event)));
      await box.whenIdle();
      expect(got).toEqual([a2, b1, status]);
    }
  });
});
