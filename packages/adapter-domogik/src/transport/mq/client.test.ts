import { Dealer, Router } from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { isPatchbayError, ErrorCodes } from '@patchbay/core';
import { captureLogger } from '@patchbay/testing';
import { EmbeddedBus } from '../bus/index.js';
import { MdpClient } from './client.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** A fake broker that answers each request with `answer(frames)` (frames without address/delimiter). */
async function fakeBroker(answer: (frames: Buffer[]) => (Buffer | string)[] | undefined) {
  const socket = new Router({ linger: 0 });
  await socket.bind('tcp://127.0.0.1:*');
  const seen: Buffer[][] = [];
  void (async () => {
    try {
      for await (const [address, , ...frames] of socket) {
        seen.push(frames);
        const reply = answer(frames);
        if (reply) await socket.send([address as Buffer, '', ...reply]);
      }
    } catch {
      /* closed */
    }
  })();
  cleanups.push(() => socket.close());
  return { endpoint: socket.lastEndpoint as string, seen };
}

function client(endpoint: string, timeoutFrame = true, maxMessageBytes = 1024 * 1024) {
  const log = captureLogger();
  const c = new MdpClient({ endpoint, timeoutFrame, logger: log.logger, badMessages: log.counter('bad'), maxMessageBytes });
  cleanups.push(() => c.close());
  return { c, log };
}

describe('domogik client', () => {
  it('domogik - §11.9 a request is [MDPC01, service, timeout, action, json], and the switch removes the timeout frame', async () => {
    const broker = await fakeBroker((f) => ['MDPC01', f[1] as Buffer, 'config.result', '{"status": true, "value": "None"}']);
    const { c } = client(broker.endpoint);
    const reply = await c.request({ service: 'admin', action: 'config.get', data: { type: 'plugin', name: 'patchbay', host: 'h', key: 'configured' }, timeoutMs: 15_000 });
    expect(reply).toEqual({ action: 'config.result', data: { status: true, value: 'None' } });
    const frames = broker.seen[0]?.map((f) => f.toString()) ?? [];
    expect(frames.slice(0, 4)).toEqual(['MDPC01', 'admin', '15', 'config.get']);
    expect(Number(frames[2])).toBeGreaterThan(0);
    expect(JSON.parse(frames[4] ?? '')).toEqual({ type: 'plugin', name: 'patchbay', host: 'h', key: 'configured' });
    const old = client(broker.endpoint, false).c;
    await old.request({ service: 'admin', action: 'device.get', data: {}, timeoutMs: 1500 });
    expect(broker.seen[1]?.map((f) => f.toString())).toEqual(['MDPC01', 'admin', 'device.get', '{}']);
  });

  it('domogik - §11.10 a reply is accepted only with MDPC01 and the requested service; malformed replies fail with one log line', async () => {
    const answers: (Buffer | string)[][] = [
      ['MDPC01', 'someone-else', 'config.result', '{}'],
      ['MDPW01', 'admin', 'config.result', '{}'],
      ['MDPC01', 'admin', 'config.result'],
      ['MDPC01', 'admin', 'config.result', '{not json'],
      // Deeper than 64 levels: refused before anything walks it.
      ['MDPC01', 'admin', 'config.result', `{"status": true, "value": ${'['.repeat(5000)}${']'.repeat(5000)}}`],
      ['MDPC01', 'admin', 'config.result', '{"status": true}'],
    ];
    let i = 0;
    const broker = await fakeBroker(() => answers[i++]);
    const { c, log } = client(broker.endpoint);
    const outcomes: string[] = [];
    for (let k = 0; k < answers.length; k++) {
      try {
        const r = await c.request({ service: 'admin', action: 'config.get', data: {}, timeoutMs: 3000 });
        outcomes.push(`ok ${JSON.stringify(r.data)}`);
      } catch (error) {
        outcomes.push(isPatchbayError(error, ErrorCodes.HOST_UNREACHABLE) ? 'malformed' : `other ${String(error)}`);
      }
    }
    expect(outcomes).toEqual(['malformed', 'malformed', 'malformed', 'malformed', 'malformed', 'ok {"status":true}']);
    expect(log.counters.get('bad')).toBe(5);
    expect(log.lines.filter((l) => l.message.startsWith('domogik client: rejected a malformed reply'))).toHaveLength(5);
    expect(log.find(/JSON nested deeper than 64 levels/)).toHaveLength(1);
    expect(c.openSockets).toBe(0);
  });

  it('domogik - §11.11 with no reply within the timeout the request fails and its socket is closed, never reused', async () => {
    let calls = 0;
    const broker = await fakeBroker((f) => (++calls === 1 ? undefined : ['MDPC01', f[1] as Buffer, 'device.result', '{"n": 2}']));
    const { c } = client(broker.endpoint);
    await expect(c.request({ service: 'admin', action: 'device.get', data: {}, timeoutMs: 300 })).rejects.toMatchObject({ code: ErrorCodes.COMMAND_TIMEOUT });
    expect(c.openSockets).toBe(0);
    // The next request goes out on a new socket (a new routing id at the broker) and succeeds.
    await expect(c.request({ service: 'admin', action: 'device.get', data: {}, timeoutMs: 3000 })).resolves.toMatchObject({ data: { n: 2 } });
    expect(broker.seen).toHaveLength(2);
  });

  it('domogik - 13.7 a reply part over maxMessageBytes is never taken: that request fails at once naming the limit, the next one succeeds', async () => {
    let calls = 0;
    const broker = await fakeBroker((f) => ['MDPC01', f[1] as Buffer, 'device.result', ++calls === 1 ? JSON.stringify({ v: 'x'.repeat(128 * 1024) }) : '{"n": 2}']);
    const { c } = client(broker.endpoint, true, 64 * 1024);
    // A timeout far beyond the test's: only the drop can end this request in time.
    const failed = await c.request({ service: 'admin', action: 'device.get', data: {}, timeoutMs: 600_000 }).catch((error: unknown) => error);
    expect(failed).toMatchObject({ code: ErrorCodes.HOST_UNREACHABLE, message: expect.stringContaining('over 65536 bytes, domogik.busMaxMessageBytes') });
    expect(c.openSockets).toBe(0);
    await expect(c.request({ service: 'admin', action: 'device.get', data: {}, timeoutMs: 10_000 })).resolves.toMatchObject({ data: { n: 2 } });
    expect(broker.seen).toHaveLength(2);
  });

  it('domogik - §11.12 §11.13 a request to a service with no worker times out without crashing; mmi.service answers 200/404', async () => {
    const bus = new EmbeddedBus({ reqRepPort: 0, pubPort: 0, subPort: 0 });
    const ports = await bus.start();
    cleanups.push(() => bus.stop());
    const { c } = client(`tcp://127.0.0.1:${ports.reqRepPort}`);
    await expect(c.request({ service: 'admin', action: 'config.get', data: {}, timeoutMs: 300 })).rejects.toMatchObject({ code: ErrorCodes.COMMAND_TIMEOUT });
    expect(await c.mmi({ service: 'mmi.service', body: 'admin', timeoutMs: 2000 })).toBe('404');
    const dealer = new Dealer({ linger: 0 });
    cleanups.push(() => dealer.close());
    dealer.connect(`tcp://127.0.0.1:${ports.reqRepPort}`);
    await dealer.send(['', 'MDPW01', Buffer.from([1]), 'admin']);
    await expect.poll(() => c.mmi({ service: 'mmi.service', body: 'admin', timeoutMs: 2000 }), { timeout: 5000 }).toBe('200');
  });
});
