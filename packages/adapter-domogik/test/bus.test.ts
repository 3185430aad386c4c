import { connect } from 'node:net';
import { Dealer, Publisher, Request, Subscriber } from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBus } from '../src/transport/bus/index.js';
import { captureLogger } from '@patchbay/testing';
import { PythonPeer } from './pythonPeer.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** One of the bus's three ports and the kind of socket that connects to it. */
interface BusEnd {
  port: number;
  open: () => Dealer | Publisher | Subscriber;
}

/** Connects one socket; resolves with its handshake's outcome (libzmq does not retry a refused one). */
function connectOne(end: BusEnd): { socket: Dealer | Publisher | Subscriber; outcome: Promise<'admitted' | 'refused'> } {
  const socket = end.open();
  cleanups.push(() => socket.close());
  const outcome = new Promise<'admitted' | 'refused'>((resolve) => {
    socket.events.on('handshake', () => resolve('admitted'));
    socket.events.on('handshake:error:auth', () => resolve('refused'));
  });
  socket.connect(`tcp://127.0.0.1:${end.port}`);
  return { socket, outcome };
}

async function startBus(timing?: { heartbeatMs?: number; liveness?: number }, maxQueuedPerService?: number) {
  const log = captureLogger();
  const bus = new EmbeddedBus({ reqRepPort: 0, pubPort: 0, subPort: 0, logger: log.logger, badMessages: log.counter('bad'), timing, maxQueuedPerService });
  const ports = await bus.start();
  cleanups.push(() => bus.stop());
  return { bus, ports, log };
}

function peerOn(ports: { reqRepPort: number; pubPort: number; subPort: number }): PythonPeer {
  const peer = new PythonPeer(ports);
  cleanups.push(() => peer.close());
  return peer;
}

describe('embedded bus', () => {
  it('bus - a python client request reaches a python worker and its reply comes back (timeout frame stripped)', async () => {
    const { ports } = await startBus();
    const admin = peerOn(ports);
    admin.worker({ service: 'admin', config: { configured: true } });
    await admin.waitFor((e) => e.event === 'worker-ready', { what: 'worker ready' });
    const client = peerOn(ports);
    // The worker registers asynchronously: poll mmi.service (an event, not a sleep) until 200.
    await expect.poll(async () => (await client.raw(['MDPC01', 'mmi.service', 'admin'])).frames, { timeout: 10_000 }).toEqual(['MDPC01', 'mmi.service', '200']);
    const reply = await client.request({ service: 'admin', action: 'config.get', data: { type: 'plugin', name: 'x', host: 'h', key: 'configured' }, timeout: 15 });
    expect(reply.event).toBe('reply');
    expect(reply.frames).toHaveLength(4);
    expect(reply.action).toBe('config.result');
    expect(reply.data).toMatchObject({ key: 'configured', value: true, status: true });
    const seen = await admin.waitFor((e) => e.event === 'request', { what: 'request at the worker' });
    expect(seen.body).toHaveLength(2);
    expect(seen.action).toBe('config.get');
    expect(seen.data).toEqual({ type: 'plugin', name: 'x', host: 'h', key: 'configured' });
  });

  it('bus - mmi.service answers 200/404, mmi.services lists workers, other mmi.* answer 501', async () => {
    const { ports } = await startBus();
    const admin = peerOn(ports);
    admin.worker({ service: 'admin' });
    const client = peerOn(ports);
    await expect.poll(async () => (await client.raw(['MDPC01', 'mmi.service', '10', 'admin'])).frames, { timeout: 10_000 }).toEqual(['MDPC01', 'mmi.service', '200']);
    expect((await client.raw(['MDPC01', 'mmi.service', 'dbmgr'])).frames).toEqual(['MDPC01', 'mmi.service', '404']);
    expect((await client.raw(['MDPC01', 'mmi.services', ''])).frames).toEqual(['MDPC01', 'mmi.services', 'admin']);
    expect((await client.raw(['MDPC01', 'mmi.nothing', ''])).frames).toEqual(['MDPC01', 'mmi.nothing', '501']);
  });

  it('bus - a request to an unknown service is dropped with a log line and the client times out', async () => {
    const { ports, log } = await startBus();
    const client = peerOn(ports);
    const reply = await client.request({ service: 'nobody', action: 'x.get', timeout: 1 });
    expect(reply.event).toBe('timeout');
    expect(log.lines.filter((l) => l.message.includes('no service "nobody"'))).toHaveLength(1);
  });

  it('bus - the text "None" in the timeout position is not a number and reaches the worker as body (§5.2)', async () => {
    const { ports } = await startBus();
    const admin = peerOn(ports);
    admin.worker({ service: 'admin' });
    const client = peerOn(ports);
    await expect.poll(async () => (await client.raw(['MDPC01', 'mmi.service', 'admin'])).frames, { timeout: 10_000 }).toEqual(['MDPC01', 'mmi.service', '200']);
    const reply = await client.request({ service: 'admin', action: 'device.get', data: {}, timeoutFrame: 'None', timeout: 5 });
    expect(reply.action).toBe('device.result');
    const seen = await admin.waitFor((e) => e.event === 'request', { what: 'request at the worker' });
    expect(seen.body).toEqual(['None', 'device.get', '{}']);
  });

  it('bus - a silent worker expires after its liveness runs out, and mmi.service then answers 404', async () => {
    const { bus, ports } = await startBus({ heartbeatMs: 100, liveness: 5 });
    const worker = new Dealer({ linger: 0 });
    cleanups.push(() => worker.close());
    worker.connect(`tcp://127.0.0.1:${ports.reqRepPort}`);
    await worker.send(['', 'MDPW01', Buffer.from([1]), 'silent']);
    // Each broker heartbeat is an event we can count: 5 unanswered ones and the worker is gone.
    let heartbeats = 0;
    while (heartbeats < 5) {
      const frames = await worker.receive();
      if (frames[2]?.[0] === 4) heartbeats++;
    }
    await expect.poll(() => bus.broker.registered(), { timeout: 2000 }).toEqual([]);
  });

  it('bus - 12.4 the broker holds at most maxQueuedPerService requests for a busy service; the oldest waiting is dropped with one line', async () => {
    const { ports, log } = await startBus(undefined, 2);
    const endpoint = `tcp://127.0.0.1:${ports.reqRepPort}`;
    const worker = new Dealer({ linger: 0 });
    cleanups.push(() => worker.close());
    worker.connect(endpoint);
    await worker.send(['', 'MDPW01', Buffer.from([1]), 'busy']);
    await worker.receive(); // first heartbeat: registered
    const clients = Array.from({ length: 4 }, () => {
      const c = new Request({ linger: 0 });
      cleanups.push(() => c.close());
      c.connect(endpoint);
      return c;
    });
    // The first goes to the worker (which never answers); the next three wait, one too many.
    await clients[0]?.send(['MDPC01', 'busy', 'work.do', '{}']);
    let request: Buffer[] = await worker.receive();
    while (request[2]?.[0] !== 2) request = await worker.receive();
    for (const c of clients.slice(1)) await c.send(['MDPC01', 'busy', 'work.do', '{}']);
    await log.waitFor(/more than 2 requests queued for "busy"; dropped the oldest/, { level: 'warn' });
    expect(log.find(/requests queued for "busy"/)).toHaveLength(1);
  });

  it('bus - no heartbeats reach a worker while it handles a request that carries a timeout (heartbeat lock, §5.6)', async () => {
    const { ports } = await startBus({ heartbeatMs: 100 });
    const endpoint = `tcp://127.0.0.1:${ports.reqRepPort}`;
    const worker = new Dealer({ linger: 0 });
    cleanups.push(() => worker.close());
    worker.connect(endpoint);
    await worker.send(['', 'MDPW01', Buffer.from([1]), 'slow']);
    await worker.receive(); // first heartbeat: registered
    const client = new Request({ linger: 0, receiveTimeout: 5000 });
    cleanups.push(() => client.close());
    client.connect(endpoint);
    await client.send(['MDPC01', 'slow', '1', 'work.do', '{}']);
    let request: Buffer[] = await worker.receive();
    while (request[2]?.[0] !== 2) request = await worker.receive();
    // While locked (1 s), the broker neither heartbeats nor expires the worker; count what arrives meanwhile.
    const during: number[] = [];
    const deadline = Date.now() + 600;
    worker.receiveTimeout = 100;
    while (Date.now() < deadline) {
      try {
        const f = await worker.receive();
        during.push(f[2]?.[0] ?? -1);
      } catch {
        /* receive timeout: nothing arrived in 100 ms */
      }
    }
    expect(during).toEqual([]);
    const envelope = request.slice(3, request.findIndex((f, i) => i > 3 && f.length === 0));
    await worker.send(['', 'MDPW01', Buffer.from([3]), ...envelope, '', 'work.result', '{"status": true}']);
    const reply = await client.receive();
    expect(reply.map((f) => f.toString())).toEqual(['MDPC01', 'slow', 'work.result', '{"status": true}']);
  });

  it('bus - malformed messages on the broker socket are logged once each, counted, and later requests get exactly one reply', async () => {
    const { ports, log } = await startBus();
    const admin = peerOn(ports);
    admin.worker({ service: 'admin' });
    const client = peerOn(ports);
    await expect.poll(async () => (await client.raw(['MDPC01', 'mmi.service', 'admin'])).frames, { timeout: 10_000 }).toEqual(['MDPC01', 'mmi.service', '200']);
    const before = log.lines.filter((l) => l.level === 'warn').length;
    await client.dealer(['no-delimiter'], 0.2); // wrong frame count: no empty delimiter
    await client.dealer(['', 'XXXX01', 'admin'], 0.2); // bad header
    await client.dealer(['', 'MDPC01'], 0.2); // client request without a service
    await client.dealer(['', 'MDPW01'], 0.2); // worker message without a command
    const unknown = await client.dealer(['', 'MDPW01', { hex: '09' }], 0.5); // unknown command byte
    expect(unknown.received).toEqual([['', 'MDPW01', '\u0005']]); // answered with DISCONNECT (§5.1)
    const warns = log.lines.filter((l) => l.level === 'warn').slice(before);
    expect(warns).toHaveLength(5);
    expect(warns.every((l) => l.message.startsWith('domogik broker: dropped a malformed message'))).toBe(true);
    expect(log.counters.get('bad')).toBe(5);
    // Invalid JSON is the worker's business, not the broker's: it is forwarded and answered once.
    const replies = await Promise.all([
      client.request({ service: 'admin', action: 'config.get', data: { key: 'a' }, timeout: 5 }),
      client.raw(['MDPC01', 'admin', '5', 'config.get', '{not json'], 5),
      client.request({ service: 'admin', action: 'device.get', data: {}, timeout: 5 }),
    ]);
    expect(replies.map((r) => r.event)).toEqual(['reply', 'reply', 'reply']);
    // The worker peer reports each request on its own stdout, which may trail the replies: await the third.
    await admin.waitFor(() => admin.events.filter((e) => e.event === 'request').length >= 3, { what: "the worker's third request" });
    expect(admin.events.filter((e) => e.event === 'request')).toHaveLength(3);
  });

  it('bus - the forwarder carries publications from a PUB to a SUB with prefix filters', async () => {
    const { ports } = await startBus();
    const sub = new Subscriber({ linger: 0 });
    const pub = new Publisher({ linger: 0 });
    cleanups.push(() => sub.close(), () => pub.close());
    sub.connect(`tcp://127.0.0.1:${ports.subPort}`);
    sub.subscribe('plugin.status');
    pub.connect(`tcp://127.0.0.1:${ports.pubPort}`);
    const received = sub.receive();
    // Slow joiner (§4.4): repeat until the subscription has propagated; the first arrival ends it.
    let got: Buffer[] | undefined;
    void received.then(
      (f) => (got = f),
      () => undefined, // closed by the cleanup after a failed wait; the test has already failed
    );
    while (!got) {
      await pub.send(['plugin.status.1700000000_000001.0_1', '{"event": "alive"}']);
      await pub.send(['client.sensor.1700000000_000001.0_1', '{"1": 2}']);
      await new Promise((r) => setImmediate(r));
      await Promise.race([received, new Promise((r) => setTimeout(r, 50))]);
    }
    expect(got.map((f) => f.toString())).toEqual(['plugin.status.1700000000_000001.0_1', '{"event": "alive"}']);
  });
});

describe('embedded bus - listener limits (13.7)', () => {
  async function limitedBus(limits: { maxMessageBytes?: number; handshakeTimeoutMs?: number; maxConnections?: number }, log = captureLogger()) {
    const bus = new EmbeddedBus({ reqRepPort: 0, pubPort: 0, subPort: 0, logger: log.logger, limits });
    const ports = await bus.start();
    cleanups.push(() => bus.stop());
    return ports;
  }

  it('bus - each port takes at most maxConnections; the next is refused with one log line, and admitted once one closes (13.7)', async () => {
    const log = captureLogger();
    const ports = await limitedBus({ maxConnections: 2 }, log);
    const ends = [
      { name: 'broker port', port: ports.reqRepPort, open: () => new Dealer({ linger: 0 }) },
      { name: 'pub port', port: ports.pubPort, open: () => new Publisher({ linger: 0 }) },
      { name: 'sub port', port: ports.subPort, open: () => new Subscriber({ linger: 0 }) },
    ];
    for (const end of ends) {
      const a = connectOne(end);
      expect(await a.outcome).toBe('admitted');
      expect(await connectOne(end).outcome).toBe('admitted');
      expect(await connectOne(end).outcome).toBe('refused');
      await log.waitFor(new RegExp(`^domogik bus: refused a connection from 127\\.0\\.0\\.1 to the ${end.name}: 2 connections already \\(domogik\\.busMaxConnections\\)$`), { level: 'warn' });
      // Once a place is free, a new connection gets in: at once, or as soon as the bus has seen
      // the close (each try is one handshake, refused again while it has not).
      a.socket.close();
      let tries = 1;
      while ((await connectOne(end).outcome) === 'refused') tries++;
      expect(tries).toBeLessThan(1000);
    }
    expect(log.find(/^domogik bus: refused/)).toHaveLength(3);
  }, 60_000);

  it('bus - a burst of 8 connections against maxConnections 4 admits exactly 4 on each port; closing 2 lets exactly 2 more in (13.7)', async () => {
    const ports = await limitedBus({ maxConnections: 4 });
    const ends = [
      { port: ports.reqRepPort, open: () => new Dealer({ linger: 0 }) },
      { port: ports.pubPort, open: () => new Publisher({ linger: 0 }) },
      { port: ports.subPort, open: () => new Subscriber({ linger: 0 }) },
    ];
    for (const end of ends) {
      /** Connects `n` sockets at once; the admitted ones, and how many were refused. */
      const burst = async (n: number) => {
        const sockets = Array.from({ length: n }, () => connectOne(end));
        const outcomes = await Promise.all(sockets.map((s) => s.outcome));
        return { admitted: sockets.filter((_, i) => outcomes[i] === 'admitted').map((s) => s.socket), refused: outcomes.filter((o) => o === 'refused').length };
      };
      const first = await burst(8);
      expect(first.admitted).toHaveLength(4);
      expect(first.refused).toBe(4);
      for (const socket of first.admitted.slice(0, 2)) socket.close();
      // The two places are free once the bus has seen the closes: until then a try is refused.
      let admitted = 0;
      let tries = 0;
      while (admitted < 2 && tries++ < 1000) if ((await connectOne(end).outcome) === 'admitted') admitted++;
      expect(admitted).toBe(2);
      const full = await burst(4);
      expect(full.admitted).toHaveLength(0);
    }
  }, 60_000);

  it('bus - a message part over maxMessageBytes disconnects its sender at the broker, unanswered; small requests are still served (13.7)', async () => {
    const ports = await limitedBus({ maxMessageBytes: 64 * 1024 });
    const dealer = new Dealer({ linger: 0, receiveTimeout: 20_000 });
    cleanups.push(() => dealer.close());
    const disconnected = new Promise<void>((resolve) => dealer.events.on('disconnect', () => resolve()));
    dealer.connect(`tcp://127.0.0.1:${ports.reqRepPort}`);
    await dealer.send(['', 'MDPC01', 'mmi.service', 'x'.repeat(100 * 1024)]);
    await disconnected;
    // zeromq reconnects the dealer by itself; the next request, under the limit, is the first answered.
    await dealer.send(['', 'MDPC01', 'mmi.service', 'admin']);
    const [, , , answer] = await dealer.receive();
    expect(answer?.toString()).toBe('404');
  }, 40_000);

  it('bus - a message over maxMessageBytes never reaches the forwarder\'s subscribers; the ones after it do (13.7)', async () => {
    const ports = await limitedBus({ maxMessageBytes: 64 * 1024 });
    const sub = new Subscriber({ linger: 0, receiveTimeout: 500 });
    cleanups.push(() => sub.close());
    sub.connect(`tcp://127.0.0.1:${ports.subPort}`);
    sub.subscribe();
    const pub = new Publisher({ linger: 0 });
    cleanups.push(() => pub.close());
    pub.connect(`tcp://127.0.0.1:${ports.pubPort}`);
    const received: string[] = [];
    /** Publish `topic` until the subscriber has it (subscriptions and reconnects take a moment). */
    const through = async (topic: string) => {
      const deadline = Date.now() + 20_000;
      while (!received.includes(topic) && Date.now() < deadline) {
        await pub.send([topic, '{}']);
        const got = await sub.receive().catch(() => undefined);
        if (got) received.push(got[0]?.toString() ?? '');
      }
      expect(received).toContain(topic);
    };
    await through('before');
    await pub.send(['big', 'x'.repeat(100 * 1024)]);
    await through('after');
    expect(received).not.toContain('big');
  }, 60_000);

  it('bus - a connection that never completes its ZMTP handshake is closed at handshakeTimeoutMs on all three ports (13.7)', async () => {
    const ports = await limitedBus({ handshakeTimeoutMs: 1000 });
    const lifetimes = await Promise.all(
      [ports.reqRepPort, ports.pubPort, ports.subPort].map(
        (port) =>
          new Promise<number>((resolve) => {
            const openedAt = Date.now();
            const socket = connect(port, '127.0.0.1');
            cleanups.push(() => void socket.destroy());
            socket.on('error', () => undefined);
            socket.on('data', () => undefined);
            socket.once('close', () => resolve(Date.now() - openedAt));
          }),
      ),
    );
    // 1 s, with room for a loaded machine; libzmq's own default is 30 s.
    for (const lived of lifetimes) expect(lived).toBeLessThan(10_000);
  }, 40_000);
});
