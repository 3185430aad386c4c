import { Router } from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { captureLogger } from '@patchbay/testing';
import { defaultWorkerTiming, MdpWorker, type MdpWorkerOptions } from './worker.js';

/** A fake broker: a real ROUTER that records every message from the worker with its arrival time. */
class FakeBroker {
  readonly socket = new Router({ linger: 0 });
  readonly received: { at: number; frames: Buffer[] }[] = [];
  private waiters: (() => void)[] = [];
  endpoint = '';

  async start(): Promise<void> {
    await this.socket.bind('tcp://127.0.0.1:*');
    this.endpoint = this.socket.lastEndpoint as string;
    void (async () => {
      try {
        for await (const frames of this.socket) {
          this.received.push({ at: Date.now(), frames });
          for (const w of this.waiters.splice(0)) w();
        }
      } catch {
        /* closed */
      }
    })();
  }

  /** Messages from the worker with command byte `cmd`. */
  commands(cmd: number): { at: number; frames: Buffer[] }[] {
    return this.received.filter((m) => m.frames[3]?.[0] === cmd && m.frames[3]?.length === 1);
  }

  async waitUntil<T>(check: () => T | undefined, timeoutMs = 8000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = check();
      if (result !== undefined) return result;
      if (Date.now() > deadline) throw new Error('fake broker: timed out');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, Math.max(0, deadline - Date.now()));
      });
    }
  }

  /** The routing id of the worker's latest READY. */
  async readyIdentity(count = 1): Promise<Buffer> {
    const ready = await this.waitUntil(() => (this.commands(1).length >= count ? this.commands(1)[count - 1] : undefined));
    return ready.frames[0] as Buffer;
  }

  send(frames: (Buffer | string)[]): Promise<void> {
    return this.socket.send(frames);
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function setup(overrides: Partial<MdpWorkerOptions> = {}) {
  const broker = new FakeBroker();
  await broker.start();
  cleanups.push(() => broker.socket.close());
  const log = captureLogger();
  const worker = new MdpWorker({
    endpoint: broker.endpoint,
    service: 'plugin-patchbay.testhost',
    logger: log.logger,
    badMessages: log.counter('bad'),
    reconnects: log.counter('reconnects'),
    handle: ({ action, data }) => ({ action: `${action}.result`, data: { echo: data } }),
    maxMessageBytes: 1024 * 1024,
    ...overrides,
  });
  worker.start();
  cleanups.push(() => worker.stop());
  const id = await broker.readyIdentity();
  return { broker, worker, log, id };
}

const B = (n: number) => Buffer.from([n]);
const allowed = new Set([1, 3, 4, 5]);

describe('domogik worker', () => {
  it('domogik - §11.14 READY ["", MDPW01, 0x01, service] is sent exactly once per socket', async () => {
    const { broker } = await setup();
    await broker.waitUntil(() => (broker.commands(4).length >= 2 ? true : undefined));
    const ready = broker.commands(1);
    expect(ready).toHaveLength(1);
    expect(ready[0]?.frames.slice(1).map((f) => f.toString('latin1'))).toEqual(['', 'MDPW01', '\u0001', 'plugin-patchbay.testhost']);
  });

  it('domogik - §11.15 heartbeats every 1000 ms (±200), also while a request is being processed', async () => {
    let release: () => void = () => undefined;
    const { broker, id } = await setup({
      handle: () => new Promise((resolve) => (release = () => resolve({ action: 'slow.result', data: {} }))),
    });
    expect(defaultWorkerTiming).toMatchObject({ heartbeatMs: 1000, idleSilenceMs: 4000, busySilenceMs: 15_000 });
    await broker.send([id, '', 'MDPW01', B(2), 'client1', '', 'slow.do', '{}']);
    // The broker is silent during a request (heartbeat lock): the worker must keep beating anyway.
    const beats = await broker.waitUntil(() => (broker.commands(4).length >= 4 ? broker.commands(4) : undefined), 8000);
    const gaps = beats.slice(1).map((b, i) => b.at - (beats[i] as { at: number }).at);
    // On average every 1000 ms (±200): one timer late on a loaded machine stretches one gap, not
    // the rate, so each gap only has to show that no beat was skipped or doubled.
    const mean = gaps.reduce((sum, gap) => sum + gap, 0) / gaps.length;
    expect(Math.abs(mean - 1000)).toBeLessThanOrEqual(200);
    for (const gap of gaps) expect(gap).toBeGreaterThan(500);
    for (const gap of gaps) expect(gap).toBeLessThan(1800);
    release();
    await broker.waitUntil(() => (broker.commands(3).length === 1 ? true : undefined));
  });

  it('domogik - §11.16 §11.17 the reply copies a multi-frame envelope byte for byte and takes action/JSON from the last two body frames', async () => {
    const { broker, id } = await setup();
    const envelope = [Buffer.from([0, 0x6b, 0x8b, 0x45, 0x6e]), Buffer.from('corr-7')];
    await broker.send([id, '', 'MDPW01', B(2), ...envelope, '', 'None', 'client.cmd.echo', '{"a": 1}']);
    const reply = await broker.waitUntil(() => broker.commands(3)[0]);
    expect(reply.frames.slice(1, 4).map((f) => f.toString('latin1'))).toEqual(['', 'MDPW01', '\u0003']);
    expect(reply.frames[4]?.equals(envelope[0] as Buffer)).toBe(true);
    expect(reply.frames[5]?.equals(envelope[1] as Buffer)).toBe(true);
    expect(reply.frames.slice(6).map((f) => f.toString())).toEqual(['', 'client.cmd.echo.result', '{"echo":{"a":1}}']);
  });

  it('domogik - §11.18 every REQUEST gets exactly one REPLY: unknown action, invalid JSON, too few frames, handler error', async () => {
    const { broker, id, log } = await setup({
      handle: ({ action }) => {
        if (action === 'boom.do') throw new Error('kaboom');
        return { action: `${action}.result`, data: { status: false, reason: 'unsupported action' } };
      },
    });
    await broker.send([id, '', 'MDPW01', B(2), 'c1', '', 'what.ever', '{}']);
    await broker.send([id, '', 'MDPW01', B(2), 'c2', '', 'config.get', '{not json']);
    await broker.send([id, '', 'MDPW01', B(2), 'c3', '', 'lonely']);
    await broker.send([id, '', 'MDPW01', B(2), 'c4', '', 'boom.do', '{}']);
    await broker.send([id, '', 'MDPW01', B(2), 'c5', '', 'what.ever', '{}']);
    const replies = await broker.waitUntil(() => (broker.commands(3).length >= 5 ? broker.commands(3) : undefined));
    const byClient = new Map(replies.map((r) => [r.frames[4]?.toString(), JSON.parse(r.frames.at(-1)?.toString() ?? '{}') as Record<string, unknown>]));
    expect([...byClient.keys()].sort()).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);
    expect(replies.map((r) => r.frames[6]?.toString())).toEqual(['what.ever.result', 'config.get.result', 'lonely.result', 'boom.do.result', 'what.ever.result']);
    for (const data of byClient.values()) expect(data.status).toBe(false);
    expect(String(byClient.get('c2')?.reason)).toContain('invalid JSON');
    expect(String(byClient.get('c4')?.reason)).toContain('kaboom');
    // Malformed requests are counted and logged once each (invalid JSON, one body frame).
    expect(log.counters.get('bad')).toBe(2);
    expect(log.lines.filter((l) => l.message.startsWith('domogik worker: dropped a malformed'))).toHaveLength(2);
    // And nothing more arrives: exactly one reply each.
    await broker.waitUntil(() => (broker.commands(4).length >= 2 ? true : undefined));
    expect(broker.commands(3)).toHaveLength(5);
  });

  it('domogik - JSON nested deeper than 64 levels is refused at decode with one reply and one log line; 64 levels are echoed', async () => {
    // The default handler echoes its data back, as helper.do echoes `parameters`: encoding 5000 levels would overflow the stack.
    const { broker, id, log } = await setup();
    const nested = (depth: number) => `{"command":"nope","parameters":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    await broker.send([id, '', 'MDPW01', B(2), 'c1', '', 'helper.do', nested(5000)]);
    await broker.send([id, '', 'MDPW01', B(2), 'c2', '', 'helper.do', nested(63)]);
    const replies = await broker.waitUntil(() => (broker.commands(3).length >= 2 ? broker.commands(3) : undefined));
    expect(replies.map((r) => r.frames[4]?.toString())).toEqual(['c1', 'c2']);
    expect(replies[0]?.frames[6]?.toString()).toBe('helper.do.result');
    const refused = JSON.parse(replies[0]?.frames[7]?.toString() ?? '{}') as Record<string, unknown>;
    expect(refused.status).toBe(false);
    expect(String(refused.reason)).toContain('JSON nested deeper than 64 levels');
    // 63 levels of arrays inside the request object: 64 in all, at the limit, decoded and echoed.
    expect(replies[1]?.frames[7]?.toString()).toBe(`{"echo":${nested(63)}}`);
    expect(log.counters.get('bad')).toBe(1);
    expect(log.find(/^domogik worker: dropped a malformed message from the broker: request helper\.do: JSON nested deeper than 64 levels/, 'warn')).toHaveLength(1);
    // Exactly one reply each: two heartbeats later there is still no third.
    await broker.waitUntil(() => (broker.commands(4).length >= 2 ? true : undefined));
    expect(broker.commands(3)).toHaveLength(2);
  });

  it('domogik - a reply the handler made unencodable still goes out once, as status false, with an error line', async () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const { broker, id, log } = await setup({ handle: ({ action }) => ({ action: `${action}.result`, data: circular }) });
    await broker.send([id, '', 'MDPW01', B(2), 'c1', '', 'helper.do', '{}']);
    const reply = await broker.waitUntil(() => broker.commands(3)[0]);
    expect(reply.frames.slice(6, 7).map((f) => f.toString())).toEqual(['helper.do.result']);
    expect(JSON.parse(reply.frames[7]?.toString() ?? '{}')).toMatchObject({ status: false, reason: expect.stringContaining('internal error') });
    expect(log.find(/^domogik: the helper\.do\.result reply could not be encoded/, 'error')).toHaveLength(1);
  });

  it('domogik - malformed broker messages (bad header, no command, unknown command byte, no envelope) are logged once each and later requests answered', async () => {
    const { broker, id, log } = await setup();
    await broker.send([id, '', 'XXXX01', B(2), 'c1', '', 'a.get', '{}']);
    await broker.send([id, '', 'MDPW01']);
    await broker.send([id, '', 'MDPW01', B(9)]);
    await broker.send([id, '', 'MDPW01', B(2), 'c2', 'no-delimiter']);
    await broker.send([id, '', 'MDPW01', B(2), 'c3', '', 'a.get', '{}']);
    const reply = await broker.waitUntil(() => broker.commands(3)[0]);
    expect(reply.frames[4]?.toString()).toBe('c3');
    expect(log.counters.get('bad')).toBe(4);
    expect(log.lines.filter((l) => l.level === 'warn')).toHaveLength(4);
  });

  it('domogik - §11.19 both ["MDPW01", 0x05] and ["", "MDPW01", 0x05] make the worker reconnect with a new READY', async () => {
    const { broker, id, worker } = await setup({ timing: { reconnectDelayMs: 50 } });
    await broker.send([id, 'MDPW01', B(5)]);
    const second = await broker.readyIdentity(2);
    expect(second.equals(id)).toBe(false);
    await broker.send([second, '', 'MDPW01', B(5)]);
    const third = await broker.readyIdentity(3);
    expect(third.equals(second)).toBe(false);
    expect(worker.stats.connects).toBe(3);
  });

  it('domogik - §11.20 after broker silence the worker opens a new socket and READYs again; a long request does not trigger it', async () => {
    // Scaled timing (the defaults, 4 s / 15 s, are asserted in the heartbeat test).
    let release: () => void = () => undefined;
    const { broker, id, worker } = await setup({
      timing: { heartbeatMs: 100, idleSilenceMs: 400, busySilenceMs: 1500, reconnectDelayMs: 50 },
      handle: () => new Promise((resolve) => (release = () => resolve({ action: 'slow.result', data: {} }))),
    });
    // Busy for 1.2 s (longer than the idle limit, shorter than the busy one) with a silent broker: no reconnect.
    const started = Date.now();
    await broker.send([id, '', 'MDPW01', B(2), 'c1', '', 'slow.do', '{}']);
    await broker.waitUntil(() => (broker.commands(4).filter((b) => b.at - started >= 1200).length > 0 ? true : undefined));
    expect(worker.stats.connects).toBe(1);
    release();
    await broker.waitUntil(() => broker.commands(3)[0]);
    // Then idle and silent: a new socket and READY after ≥ 400 ms.
    const second = await broker.readyIdentity(2);
    expect(second.equals(id)).toBe(false);
    expect(worker.stats.connects).toBe(2);
  });

  it('domogik - 13.7 a message part over maxMessageBytes from the broker is never handled: the worker logs the drop, READYs on a new socket and serves the next request', async () => {
    const handled: string[] = [];
    const { broker, id, log, worker } = await setup({
      maxMessageBytes: 64 * 1024,
      timing: { reconnectDelayMs: 50 },
      handle: ({ action }) => {
        handled.push(action);
        return { action: `${action}.result`, data: {} };
      },
    });
    await broker.send([id, '', 'MDPW01', B(2), 'first', '', 'first.do', '{}']);
    await broker.waitUntil(() => broker.commands(3)[0]);
    await broker.send([id, '', 'MDPW01', B(2), 'big', '', 'huge.do', JSON.stringify({ v: 'x'.repeat(128 * 1024) })]);
    const second = await broker.readyIdentity(2);
    expect(second.equals(id)).toBe(false);
    expect(log.find(/^domogik worker: the connection to the broker dropped \(the broker went away, or sent a message part over 65536 bytes, domogik\.busMaxMessageBytes\); reconnecting/, 'warn')).toHaveLength(1);
    await broker.send([second, '', 'MDPW01', B(2), 'small', '', 'small.do', '{}']);
    const reply = await broker.waitUntil(() => broker.commands(3)[1]);
    expect(reply.frames[4]?.toString()).toBe('small');
    expect(handled).toEqual(['first.do', 'small.do']);
    expect(worker.stats.connects).toBe(2);
  });

  it('domogik - §11.21 §11.22 under a burst of requests, sends stay serialized (no EBUSY) and only 0x01/0x03/0x04/0x05 are sent', async () => {
    const { broker, id, log } = await setup({ handle: async ({ action }) => ({ action: `${action}.result`, data: {} }) });
    for (let i = 0; i < 200; i++) await broker.send([id, '', 'MDPW01', B(2), `c${i}`, '', 'x.get', '{}']);
    await broker.waitUntil(() => (broker.commands(3).length >= 200 ? true : undefined));
    expect(log.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
    for (const m of broker.received) {
      expect(m.frames[2]?.toString()).toBe('MDPW01');
      expect(allowed.has(m.frames[3]?.[0] ?? -1)).toBe(true);
    }
  });
});
