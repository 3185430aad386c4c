import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SseParser, type SseEvent } from '../src/internal.js';
import { FakeTracim, tlm } from './fakeTracim.js';
import { startMaster, startPyPeer, type MasterRig, type PyPeer } from './helpers.js';

/** A promise the test resolves when it wants the fake Tracim's stream to start talking. */
function gate(): { ready: Promise<void>; go: () => void } {
  let go: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (go = resolve));
  return { ready, go };
}

describe('tracim - TLM ingestion (T items)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void>)().catch(() => undefined);
  });

  async function rig(fake: FakeTracim, account: Record<string, unknown> = {}): Promise<{ r: MasterRig; c: PyPeer }> {
    await fake.start();
    cleanups.push(() => fake.stop());
    // Stream scripts wait for the test's go-ahead, so the client is registered before TLMs flow.
    const r = await startMaster({ tracim: { url: fake.url, username: 'admin', password: 's3cret', ...account } });
    cleanups.push(() => r.close());
    const c = await startPyPeer({ master: r.master, path: join(r.dir, 'c.sock') });
    cleanups.push(() => c.kill());
    await c.waitFor('daemon_account_info');
    return { r, c };
  }
  const tlmsOf = (c: PyPeer) => c.received('daemon_tracim_event').map((m) => m.data as string);

  it('tracim - T1 T2 logs in with a JSON body, takes user_id and the session cookie, opens the stream with Accept: text/event-stream', async () => {
    const fake = new FakeTracim();
    const { ready, go } = gate();
    fake.streams = [(res) => void ready.then(() => res.write(`event: stream-open\ndata:\n\nevent: message\ndata: ${tlm(1)}\n\n`))];
    const { r, c } = await rig(fake, { mail: 'me@example.com' });
    const login = fake.requests.find((q) => q.url === '/api/auth/login');
    expect(login?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(login?.body ?? '{}')).toEqual({ email: 'me@example.com', username: 'admin', password: 's3cret' });
    await fake.changed.waitUntil(() => fake.streamRequests()[0], { what: 'the stream request' });
    const stream = fake.streamRequests()[0];
    expect(stream?.url).toBe('/api/users/5/live_messages');
    expect(stream?.headers.accept).toBe('text/event-stream');
    expect(stream?.headers.cookie).toBe('session_key=sess1');
    go();
    await c.waitFor('daemon_tracim_event');
    expect(tlmsOf(c)).toEqual([tlm(1)]);
    // user_id of daemon_account_info is the Tracim account's (§5.2).
    await c.send({ path: c.path, type: 'daemon_get_account_info' });
    expect((await c.waitFor('daemon_account_info', 2)).data).toEqual({ user_id: '5' });
    expect(r.logger.find(/s3cret/)).toEqual([]);
  });

  it('tracim - T3 several events in one chunk and one event split across chunks are all relayed verbatim, in order', async () => {
    const fake = new FakeTracim();
    const { ready, go } = gate();
    fake.streams = [
      (res) =>
        void ready.then(async () => {
          res.write(`:Tracim Live Messages for user 5\nevent: stream-open\ndata:\n\nevent: message\ndata: ${tlm(10)}\n\nevent: message\ndata: ${tlm(11)}\n\n`);
          const split = `event: message\r\ndata: ${tlm(12)}\r\n\r\n`;
          for (const part of [split.slice(0, 9), split.slice(9, 30), split.slice(30, split.length - 1), split.slice(split.length - 1)]) {
            res.write(part);
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }),
    ];
    const { c } = await rig(fake);
    go();
    await c.waitFor('daemon_tracim_event', 3);
    expect(tlmsOf(c)).toEqual([tlm(10), tlm(11), tlm(12)]);
  });

  it('tracim - T4 T5 ignores stream-open and keep-alive, reports stream-error, treats a nameless event as message', async () => {
    const fake = new FakeTracim();
    const { ready, go } = gate();
    fake.streams = [
      (res) =>
        void ready.then(() =>
          res.write(`event: stream-open\ndata:\n\nevent: keep-alive\ndata:\n\ndata: ${tlm(20)}\n\nevent: stream-error\ndata: {"code": 3001, "message": "too many online users"}\n\nevent: message\ndata: ${tlm(21)}\n\n`),
        ),
    ];
    const { r, c } = await rig(fake);
    go();
    await c.waitFor('daemon_tracim_event', 2);
    expect(tlmsOf(c)).toEqual([tlm(20), tlm(21)]);
    expect(r.logger.find(/stream error: .*too many online users/)).toHaveLength(1);
  });

  it('tracim - T6 on EOF it reconnects with after_event_id = the last event_id, without exiting; 401 logs in again', async () => {
    const fake = new FakeTracim();
    const { ready, go } = gate();
    fake.streams = [
      (res) => void ready.then(() => res.end(`event: stream-open\ndata:\n\nevent: message\ndata: ${tlm(30)}\n\nevent: message\ndata: ${tlm(31)}\n\n`)),
      (res) => res.end(`event: stream-open\ndata:\n\ndata: ${tlm(32)}\n\n`),
      (res) => res.write(`event: stream-open\ndata:\n\nevent: message\ndata: ${tlm(33)}\n\n`),
    ];
    // Stream requests: #0 ends after 31, #1 ends after 32, #2 is refused (401), #3 after re-login.
    fake.refuse = new Set([2]);
    const { r, c } = await rig(fake);
    go();
    await c.waitFor('daemon_tracim_event', 3, 10_000);
    expect(fake.streamRequests()[1]?.url).toBe('/api/users/5/live_messages?after_event_id=31');
    await c.waitFor('daemon_tracim_event', 4, 15_000);
    expect(tlmsOf(c)).toEqual([tlm(30), tlm(31), tlm(32), tlm(33)]);
    const urls = fake.streamRequests().map((q) => q.url);
    expect(urls.at(-1)).toBe('/api/users/5/live_messages?after_event_id=32');
    expect(fake.sessions).toBeGreaterThanOrEqual(2);
    expect(r.logger.find(/stream ended \(EOF\)/).length).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it('tracim - T6 a stream that Tracim or Pushpin closes mid-body (FIN, no EOF of the chunked body) is reopened after the last event_id', async () => {
    const fake = new FakeTracim();
    const { ready, go } = gate();
    fake.streams = [
      (res) =>
        void ready.then(() => {
          res.write(`event: stream-open\ndata:\n\nevent: message\ndata: ${tlm(60)}\n\n`, () => res.socket?.end());
        }),
      (res) => res.write(`event: stream-open\ndata:\n\nevent: message\ndata: ${tlm(61)}\n\n`),
    ];
    const { r, c } = await rig(fake);
    go();
    await c.waitFor('daemon_tracim_event', 2);
    expect(tlmsOf(c)).toEqual([tlm(60), tlm(61)]);
    expect(fake.streamRequests().map((q) => q.url)).toEqual(['/api/users/5/live_messages', '/api/users/5/live_messages?after_event_id=60']);
    expect(r.logger.find(/Tracim live messages: the live message stream (failed|was closed).*reconnecting/)).toHaveLength(1);
  });

  it('tracim - T6 keep-alives hold the stream open; a stream silent for idleTimeoutMs is taken for dead, closed and reopened after the last event_id', async () => {
    const fake = new FakeTracim();
    const { ready, go } = gate();
    const firstClosed = new Promise<void>((resolve) => {
      fake.streams = [
        (res) => {
          // Pushpin's keep-alive, sped up: the stream stays until the test's go-ahead, then falls silent.
          res.write(`:Tracim Live Messages for user 5\nevent: stream-open\ndata:\n\n`);
          const keepAlive = setInterval(() => res.write('event: keep-alive\ndata:\n\n'), 100);
          res.on('close', () => {
            clearInterval(keepAlive);
            resolve();
          });
          void ready.then(() => {
            clearInterval(keepAlive);
            res.write(`event: message\ndata: ${tlm(70)}\n\n`);
          });
        },
        (res) => res.write(`event: stream-open\ndata:\n\nevent: message\ndata: ${tlm(71)}\n\n`),
      ];
    });
    const { r, c } = await rig(fake, { idleTimeoutMs: 1000 });
    expect(fake.streamRequests()).toHaveLength(1);
    go();
    await c.waitFor('daemon_tracim_event', 2);
    await firstClosed;
    expect(tlmsOf(c)).toEqual([tlm(70), tlm(71)]);
    expect(fake.streamRequests().map((q) => q.url)).toEqual(['/api/users/5/live_messages', '/api/users/5/live_messages?after_event_id=70']);
    expect(r.logger.find(/nothing on the live message stream for 1000 ms .*reconnecting in \d+ ms after event 70/)).toHaveLength(1);
  });

  it('tracim - an event over 1 MiB is skipped with one log line; the stream goes on and the next events are relayed', async () => {
    const fake = new FakeTracim();
    const { ready, go } = gate();
    fake.streams = [
      (res) =>
        void ready.then(async () => {
          res.write(`event: stream-open\ndata:\n\nevent: message\ndata: ${tlm(80)}\n\nevent: message\ndata: {"event_id": 81, "big": "`);
          const piece = 'x'.repeat(64 * 1024);
          for (let i = 0; i < 24; i++) await new Promise((resolve) => res.write(piece, resolve));
          res.write(`"}\n\nevent: message\ndata: ${tlm(82)}\n\n`);
        }),
    ];
    const { r, c } = await rig(fake);
    go();
    await c.waitFor('daemon_tracim_event', 2);
    expect(tlmsOf(c)).toEqual([tlm(80), tlm(82)]);
    expect(r.logger.find(/over the 1 MiB limit .*skipped/)).toHaveLength(1);
    expect(fake.streamRequests()).toHaveLength(1);
  });

  it('tracim - SSE parser skips an event over maxEventBytes, whatever the chunking, and resumes at the next one', () => {
    const text = `data: ${'y'.repeat(100)}\r\ndata: more\r\n\r\nevent: a\r\ndata: ok\r\n\r\ndata: ${'z'.repeat(30)}\ndata: ${'z'.repeat(30)}\n\ndata: fine\n\n`;
    for (const chunks of [[text], [...text], text.match(/[\s\S]{1,7}/g) ?? []]) {
      const events: SseEvent[] = [];
      const overflows: number[] = [];
      const parser = new SseParser((e) => events.push(e), { maxEventBytes: 50, onOverflow: (n) => overflows.push(n) });
      for (const chunk of chunks) parser.push(chunk);
      expect(events).toEqual([
        { event: 'a', data: 'ok', id: undefined },
        { event: 'message', data: 'fine', id: undefined },
      ]);
      expect(overflows).toHaveLength(2);
    }
  });

  it('tracim - SSE parser counts the cap in UTF-8 bytes, not characters (20 × "€" is 60 bytes)', () => {
    for (const chunks of [[`data: ${'€'.repeat(20)}\n\ndata: ${'é'.repeat(20)}\n\n`], [`data: ${'€'.repeat(10)}`, `${'€'.repeat(10)}\n\n`, `data: ${'é'.repeat(20)}\n\n`]]) {
      const events: SseEvent[] = [];
      const overflows: number[] = [];
      const parser = new SseParser((e) => events.push(e), { maxEventBytes: 50, onOverflow: (n) => overflows.push(n) });
      for (const chunk of chunks) parser.push(chunk);
      // 40 bytes of é (plus its newline) fit; 60 bytes of € do not.
      expect(events).toEqual([{ event: 'message', data: 'é'.repeat(20), id: undefined }]);
      expect(overflows).toHaveLength(1);
      expect(overflows[0]).toBeGreaterThan(50);
    }
  });

  it('tracim - SSE parser handles CRLF, comments, multi-line data and byte-by-byte input', () => {
    const events: SseEvent[] = [];
    const parser = new SseParser((e) => events.push(e));
    const text = ':comment\r\nevent: a\r\ndata: 1\r\ndata: 2\r\n\r\ndata:x\n\nevent: b\ndata\n\n';
    for (const ch of text) parser.push(ch);
    expect(events).toEqual([
      { event: 'a', data: '1\n2', id: undefined },
      { event: 'message', data: 'x', id: undefined },
      { event: 'b', data: '', id: undefined },
    ]);
  });
});
