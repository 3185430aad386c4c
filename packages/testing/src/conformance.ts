import { createGateway, type Adapter, type AdapterDefinition, type Gateway, type JsonValue, type OutboundEvent } from '@patchbay/core';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeDriver, FakeHost } from '@patchbay/core/mock';

/** A reply as the host-side peer saw it on its own protocol. */
export interface PeerReply {
  ok: boolean;
  value?: unknown;
  error?: unknown;
}

/** The test's stand-in for the host platform, speaking the adapter's protocol. */
export interface HostPeer {
  /** Resolves with the value once the peer has received state for device/channel that satisfies `accept`. */
  waitForState(query: { device: string; channel: string; accept?: (value: unknown) => boolean; timeoutMs?: number }): Promise<unknown>;
  /** Send a command over the protocol and resolve with the reply the protocol carried back. */
  command(command: { device: string; channel: string; value: JsonValue }): Promise<PeerReply>;
  /** Make the host unreachable (push protocols); omit for pull protocols. */
  goDown?(): Promise<void>;
  /** Make it reachable again. */
  comeBack?(): Promise<void>;
  close(): Promise<void>;
}

/** What an adapter package supplies to run the conformance suite against itself. */
export interface ConformanceHarness {
  definition: AdapterDefinition;
  /** Fresh adapter options (port 0, temporary socket paths) for one gateway. */
  options(): Promise<unknown> | unknown;
  /** Connect a peer to the started adapter (the instance is passed for its bound address). */
  connect(context: { options: unknown; adapter: Adapter; hostId: string }): Promise<HostPeer>;
  /** Adapters that push replies through the outbox get them later; default 5000 ms. */
  timeoutMs?: number;
}

interface Rig {
  gateway: Gateway;
  driver: FakeDriver;
  other: FakeHost;
  /** Everything the adapter under test was handed. */
  seen: OutboundEvent[];
  adapter(): Adapter;
  options: unknown;
}

/**
 * The shared host adapter conformance suite (after MQTT.js's abstract store tests): start and
 * stop twice, snapshot on connect, live state, nothing lost while the host is down, the reply
 * goes only to the asker, no echo, an unknown device gets a failed reply. Call it from a
 * test file of the adapter package.
 */
export function describeHostAdapterConformance(name: string, harness: ConformanceHarness): void {
  describe(`${name} - host adapter conformance`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void>)().catch(() => undefined);
    });

    async function rig(): Promise<Rig> {
      const driver = new FakeDriver();
      const other = new FakeHost();
      const seen: OutboundEvent[] = [];
      let current: Adapter | undefined;
      // Wrap the definition to watch exactly what the core hands the adapter.
      const spied: AdapterDefinition = {
        ...harness.definition,
        create(config, ctx) {
          const adapter = harness.definition.create(config, ctx);
          current = adapter;
          const deliver = adapter.deliver.bind(adapter);
          const deliverBatch = adapter.deliverBatch?.bind(adapter);
          const wrapped: Adapter = {
            start: () => adapter.start(),
            stop: () => adapter.stop(),
            deliver: (event) => {
              const result = deliver(event);
              seen.push(event);
              return result;
            },
          };
          if (deliverBatch) {
            wrapped.deliverBatch = (events) => {
              const result = deliverBatch(events);
              seen.push(...events);
              return result;
            };
          }
          // Keep any extra members (a bound address getter) reachable for `connect`.
          return Object.assign(Object.create(adapter) as Adapter, wrapped);
        },
      };
      const options = await harness.options();
      const gateway = createGateway({
        devices: [{ id: 'dev1', definition: driver.definition }],
        hosts: [
          { id: 'subject', definition: spied, options },
          { id: 'other', definition: other.definition },
        ],
        commandTimeoutMs: 2000,
      });
      cleanups.push(() => gateway.stop({ drainTimeoutMs: 500 }));
      await gateway.start();
      await driver.waitRunning();
      return {
        gateway,
        driver,
        other,
        seen,
        options,
        adapter: () => {
          if (!current) throw new Error('adapter not created');
          return current;
        },
      };
    }

    async function connect(r: Rig): Promise<HostPeer> {
      const peer = await harness.connect({ options: r.options, adapter: r.adapter(), hostId: 'subject' });
      cleanups.push(() => peer.close());
      return peer;
    }

    const timeout = harness.timeoutMs ?? 5000;

    it('starts and stops twice with the same options', async () => {
      const options = await harness.options();
      for (let round = 0; round < 2; round++) {
        const driver = new FakeDriver();
        const gateway = createGateway({ devices: [{ id: 'dev1', definition: driver.definition }], hosts: [{ id: 'subject', definition: harness.definition, options }] });
        await gateway.start();
        await gateway.stop({ drainTimeoutMs: 200 });
        expect(gateway.health().hosts[0]?.status).toBe('stopped');
      }
    });

    it('sends the current state to a peer that connects late (snapshot on connect)', async () => {
      const r = await rig();
      r.driver.emit('temperature', 21.5);
      await r.other.waitFor((e) => e.kind === 'state' && e.value === 21.5);
      const peer = await connect(r);
      await expect(peer.waitForState({ device: 'dev1', channel: 'temperature', accept: (v) => v === 21.5, timeoutMs: timeout })).resolves.toBe(21.5);
    });

    it('delivers live state changes', async () => {
      const r = await rig();
      const peer = await connect(r);
      r.driver.emit('humidity', 40);
      r.driver.emit('humidity', 41);
      await expect(peer.waitForState({ device: 'dev1', channel: 'humidity', accept: (v) => v === 41, timeoutMs: timeout })).resolves.toBe(41);
    });

    it('loses nothing while the host is down: the latest value of every channel arrives after', async (ctx) => {
      const r = await rig();
      const peer = await connect(r);
      if (!peer.goDown || !peer.comeBack) {
        await ctx.annotate('pull protocol: the host is never pushed to, so it cannot miss anything while down');
        expect(peer.goDown).toBeUndefined();
        return;
      }
      await peer.goDown();
      for (let i = 1; i <= 50; i++) r.driver.emit('temperature', i);
      r.driver.emit('relay', true);
      await peer.comeBack();
      await expect(peer.waitForState({ device: 'dev1', channel: 'temperature', accept: (v) => v === 50, timeoutMs: timeout * 3 })).resolves.toBe(50);
      await expect(peer.waitForState({ device: 'dev1', channel: 'relay', accept: (v) => v === true, timeoutMs: timeout * 3 })).resolves.toBe(true);
    });

    it('routes the reply only to the host that asked, and never echoes a command', async () => {
      const r = await rig();
      const peer = await connect(r);
      const reply = await peer.command({ device: 'dev1', channel: 'relay', value: true });
      expect(reply.ok).toBe(true);
      expect(r.driver.commands.at(-1)).toMatchObject({ device: 'dev1', channel: 'relay', value: true, origin: 'subject' });
      const fromOther = await r.other.submit({ device: 'dev1', channel: 'relay', value: false });
      expect(fromOther).toMatchObject({ ok: true, to: 'other' });
      // The other host never sees the subject's reply; the subject never sees the other's.
      expect(r.other.delivered.filter((e) => e.kind === 'reply' && e.to !== 'other')).toEqual([]);
      expect(r.seen.filter((e) => e.kind === 'reply' && e.to !== 'subject')).toEqual([]);
      expect(r.seen.filter((e) => (e.kind as string) === 'command')).toEqual([]);
    });

    it('answers a command for an unknown device with a failed reply', async () => {
      const r = await rig();
      const peer = await connect(r);
      const reply = await peer.command({ device: 'no-such-device', channel: 'relay', value: true });
      expect(reply.ok).toBe(false);
      expect(r.driver.commands).toHaveLength(0);
    });
  });
}
