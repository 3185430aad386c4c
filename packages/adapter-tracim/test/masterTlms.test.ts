import { join } from 'node:path';
import { silentLogger, type StateEvent } from '@patchbay/core';
import { tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { MasterClients } from '../src/modes/masterClients.js';
import { MasterTlms } from '../src/modes/masterTlms.js';
import { encodeEnvelope, EventTypes, tlmTime } from '../src/protocol/wire.js';
import { rawListener } from './helpers.js';

describe('tracim - the master TLMs: when they are encoded', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void> | void)();
  });

  /** Master TLMs over real client queues; `encoded` counts the TLMs made into bytes. */
  function make(coalesceAfter: number) {
    const dir = tempDir('pb-tracim-tlms-');
    cleanups.push(() => dir.remove());
    const noCount = { inc: () => undefined };
    let id = 0;
    const clients = new MasterClients({
      config: { sendTimeoutMs: 2000, maxQueuedPerClient: 1000, coalesceAfter },
      logger: silentLogger,
      counters: { dropped: noCount, stalled: noCount },
      takeEventId: () => ++id,
    });
    cleanups.push(() => void clients.close());
    const counts = { encoded: 0 };
    const tlms = new MasterTlms({
      ctx: { description: () => undefined, snapshot: () => ({ devices: [] }) },
      clients,
      nextId: () => ++id,
      fit: (text) => {
        counts.encoded++;
        return encodeEnvelope(join(dir.path, 'master.sock'), EventTypes.tracimEvent, text);
      },
    });
    const client = async (name: string) => {
      const listener = await rawListener(join(dir.path, `${name}.sock`));
      cleanups.push(() => listener.close());
      clients.register(listener.server.address() as string, '1');
      return listener;
    };
    let n = 0;
    const state = (channel: string, value: number): StateEvent => ({ kind: 'state', id: `e${++n}`, time: 1_700_000_000_000, origin: 'dev1', device: 'dev1', channel, value });
    return { tlms, client, state, counts };
  }

  const valuesOf = (messages: Buffer[]) => messages.map((b) => (JSON.parse((JSON.parse(b.toString()) as { data: string }).data) as { fields: { value: unknown } }).fields.value);

  it('tracim - issue 12: a TLM broadcast while a client keeps up is encoded at once, once for all clients, and the bytes are shared', async () => {
    const { tlms, client, state, counts } = make(64);
    const a = await client('a');
    const b = await client('b');
    // One turn's burst: the first goes out at once, the others wait for their turn.
    for (let i = 0; i < 5; i++) tlms.broadcast(state('n', i));
    // Encoded with the burst, not one by one between connections.
    expect(counts.encoded).toBe(5);
    for (const c of [a, b]) await c.changed.waitUntil(() => (c.messages.length >= 5 ? true : undefined), { what: '5 TLMs', timeoutMs: 10_000 });
    expect(counts.encoded).toBe(5);
    expect(valuesOf(a.messages)).toEqual([0, 1, 2, 3, 4]);
    expect(b.messages.map(String)).toEqual(a.messages.map(String));
  });

  it('tracim - issue 20: while every client is behind, a state change coalesced away before its turn is never encoded', async () => {
    const { tlms, client, state, counts } = make(1);
    const a = await client('a');
    tlms.broadcast(state('n', 0));
    // n0 is in flight, so the client is behind (coalesceAfter 1): n1 gets a slot, n2..n9 take it.
    for (let i = 1; i <= 9; i++) tlms.broadcast(state('n', i));
    await a.changed.waitUntil(() => (a.messages.length >= 2 ? true : undefined), { what: '2 TLMs', timeoutMs: 10_000 });
    expect(valuesOf(a.messages)).toEqual([0, 9]);
    expect(counts.encoded).toBe(2);
  });

  it('tracim - created: each time gets its own second, whatever came before (the last second formatted is reused); an invalid time still throws', () => {
    const t = Date.UTC(2026, 2, 27, 13, 51, 25);
    const seen = [t, t + 999, t + 1000, t - 1, t + 500, Date.UTC(1969, 11, 31, 23, 59, 58, 500), t].map(tlmTime);
    expect(seen).toEqual(['2026-03-27T13:51:25Z', '2026-03-27T13:51:25Z', '2026-03-27T13:51:26Z', '2026-03-27T13:51:24Z', '2026-03-27T13:51:25Z', '1969-12-31T23:59:58Z', '2026-03-27T13:51:25Z']);
    expect(() => tlmTime(Number.NaN)).toThrow(RangeError);
  });
});
