import net from 'node:net';
import { InputBudget, type HostContext } from '@patchbay/core';
import { Signal } from '@patchbay/testing';
import { describe, expect, it } from 'vitest';
import { withApikey } from '../src/internal.js';
import { PhpCallback, sendRaw, type CallbackRecord } from './peer.js';
import { APIKEY, rigAndPeer, startRig } from './rig.js';

const REJECTED = 'patchbay_jeedom_rejected_messages_total';
type Decoded = { replies?: Record<string, { ok: boolean; code?: string }> };
const decoded = (r: CallbackRecord): Decoded => (r.decoded ?? {}) as Decoded;

function command(fields: Record<string, unknown>): string {
  return JSON.stringify({ action: 'command', device: 'dev1', channel: 'relay', ...fields, apikey: APIKEY });
}

/** A connection that is open (connected) and has sent nothing. */
async function idle(port: number): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, closed };
}

describe('jeedom - command socket admission and acknowledgement (13.3, 13.7)', () => {
  const t = rigAndPeer();

  it('jeedom - (13.3) the connection is closed (EOF) only once the core accepted (journaled) the command, not when it was read', async () => {
    const accepting = new Signal();
    let release: (() => void) | undefined;
    // The core's submit, with the acceptance held back as a slow journal write would.
    const hold = (ctx: HostContext): Partial<HostContext> => ({
      submit: (input, options) =>
        ctx.submit(input, {
          ...options,
          onAccepted: () => {
            release = () => options?.onAccepted?.();
            accepting.notify();
          },
        }),
    });
    const rig = (t.rig = await startRig({}, { context: hold }));
    const { socket, closed } = await idle(rig.port());
    let eof = false;
    socket.on('end', () => (eof = true));
    socket.end(command({ value: true, id: 'held' }));
    await accepting.waitUntil(() => release, { what: 'the command accepted', timeoutMs: 10_000 });
    // The driver may already have it; the peer must not have seen its EOF.
    expect(eof).toBe(false);
    expect(socket.destroyed).toBe(false);
    release?.();
    await closed;
    expect(eof).toBe(true);
  });

  it('jeedom - (13.3) a refused command closes its connection too (its refusal is its reply)', async () => {
    const rig = (t.rig = await startRig({}));
    // Each resolves only once the gateway closed the connection.
    expect((await sendRaw(rig.port(), command({ device: 'nope', value: true }))).length).toBe(0);
    expect((await sendRaw(rig.port(), JSON.stringify({ action: 'refresh', apikey: APIKEY }))).length).toBe(0);
    expect((await sendRaw(rig.port(), JSON.stringify({ action: 'command', device: 'dev1', apikey: APIKEY }))).length).toBe(0);
  });

  it('jeedom - (13.3) refusals reach the asker even when the reply queue is full: held, then posted when the callback answers', async () => {
    const peer = (t.peer = await PhpCallback.start());
    const rig = (t.rig = await startRig({ callback: peer.url, cycle: 0, http: { retryDelayMs: 20 } }, { maxPendingReplies: 2 }));
    await peer.stop();
    for (let i = 0; i < 6; i++) await sendRaw(rig.port(), command({ value: true, id: `c${i}` }));
    // Two replies fill the queue; the four later commands are refused without reaching the device.
    await rig.waitCommands(2);
    await rig.logger.waitFor(/too many undelivered replies/, { level: 'warn' });
    await peer.restart();
    const replies = await peer.waitFor((rs) => {
      const all = Object.assign({}, ...rs.filter((r) => r.answered === 200).map((r) => decoded(r).replies ?? {})) as NonNullable<Decoded['replies']>;
      return Object.keys(all).length >= 6 ? all : undefined;
    }, 'six replies', 30_000);
    expect(Object.keys(replies).sort()).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
    expect(Object.values(replies).filter((r) => r.ok)).toHaveLength(2);
    expect(Object.values(replies).filter((r) => r.code === 'PB208_OUTBOX_FULL')).toHaveLength(4);
    expect(rig.commands).toHaveLength(2);
  });

  it('jeedom - (13.7) connections past maxConnections are closed unread with one ERROR; served again once one closes', async () => {
    const rig = (t.rig = await startRig({ maxConnections: 3 }));
    const open = await Promise.all([idle(rig.port()), idle(rig.port()), idle(rig.port())]);
    const extra = await Promise.all([idle(rig.port()), idle(rig.port())]);
    await Promise.all(extra.map((e) => e.closed));
    expect(rig.logger.find(/maxConnections 3/, 'error')).toHaveLength(1);
    expect(rig.metrics.get(REJECTED)).toBe(2);
    for (const o of open) o.socket.destroy();
    await Promise.all(open.map((o) => o.closed));
    await rig.logger.waitFor(/accepts connections again \(2 refused/, { level: 'warn' });
    await sendRaw(rig.port(), command({ value: true, id: 'after' }));
    expect((await rig.waitCommands(1)).map((c) => c.ref)).toEqual(['after']);
  });

  it('jeedom - (13.7) at maxConnections a connection silent for a second makes room for a real command; one that is sending is kept', async () => {
    const rig = (t.rig = await startRig({ maxConnections: 3, messageTimeoutMs: 60_000 }));
    const sending = await idle(rig.port());
    sending.socket.write('{');
    const silent = [await idle(rig.port()), await idle(rig.port())];
    // A trickle on the sending one is the clock: once it has ticked past a second, the silent ones are old enough.
    const ticked = new Signal();
    let ticks = 0;
    const trickle = setInterval(() => {
      if (sending.socket.writable) sending.socket.write(' ');
      ticks++;
      ticked.notify();
    }, 100);
    try {
      await ticked.waitUntil(() => (ticks >= 12 ? true : undefined), { what: 'a second and more of trickle', timeoutMs: 20_000 });
      await sendRaw(rig.port(), command({ value: true, id: 'real' }));
      expect((await rig.waitCommands(1)).map((c) => c.ref)).toEqual(['real']);
      // The oldest silent connection went; the sending one and the younger silent one did not.
      await silent[0]?.closed;
      expect(sending.socket.destroyed).toBe(false);
      expect(silent[1]?.socket.destroyed).toBe(false);
      expect(rig.metrics.get('patchbay_jeedom_evicted_connections_total')).toBe(1);
      expect(rig.logger.find(/closing connections that sent nothing/, 'warn')).toHaveLength(1);
    } finally {
      clearInterval(trickle);
    }
  });

  it('jeedom - (13.7) the message deadline counts from the connect: a connection trickling a byte every 50 ms is still closed at messageTimeoutMs', async () => {
    const rig = (t.rig = await startRig({ messageTimeoutMs: 800 }));
    const { socket, closed } = await idle(rig.port());
    const opened = Date.now();
    socket.write('{');
    const trickle = setInterval(() => socket.writable && socket.write(' '), 50);
    try {
      await closed;
    } finally {
      clearInterval(trickle);
    }
    // An idle timer would never fire while bytes keep coming; the lower bound is the deadline itself.
    expect(Date.now() - opened).toBeGreaterThanOrEqual(700);
    await rig.logger.waitFor(/stalled: no complete message within 800 ms/, { level: 'error' });
    await sendRaw(rig.port(), command({ value: true, id: 'after' }));
    await rig.waitCommands(1);
  });

  it('jeedom - (13.7) unfinished messages share one memory budget per listener: the connection that would pass maxBufferedBytes is closed', async () => {
    const rig = (t.rig = await startRig({ maxMessageBytes: 48 * 1024, maxBufferedBytes: 64 * 1024 }));
    const both = [await idle(rig.port()), await idle(rig.port())];
    const chunk = 'x'.repeat(40 * 1024);
    for (const c of both) c.socket.write(`{"value":"${chunk}`);
    // Whichever the listener read second is refused; the other stays open.
    const refused = await Promise.race(both.map((c, i) => c.closed.then(() => i)));
    await rig.logger.waitFor(/maxBufferedBytes is 65536/, { level: 'error' });
    const kept = both[1 - refused] as (typeof both)[number];
    expect(kept.socket.destroyed).toBe(false);
    // It finishes within its own limit: the refused one gave its share of the budget back.
    kept.socket.end(`","action":"command","device":"dev1","channel":"blob","id":"first","apikey":"${APIKEY}"}`);
    await kept.closed;
    expect((await rig.waitCommands(1)).map((c) => c.ref)).toEqual(['first']);
  });

  it('jeedom - (13.7) unfinished messages draw on the gateway-wide input budget too: the connection that would pass it is closed, and what it held is given back', async () => {
    // 90 KiB of the gateway's 100 KiB already held by other listeners.
    const budget = new InputBudget(100 * 1024);
    budget.take(90 * 1024);
    const rig = (t.rig = await startRig({ maxMessageBytes: 48 * 1024 }, { context: { inputBudget: budget } }));
    const first = await idle(rig.port());
    first.socket.write(`{"value":"${'x'.repeat(6 * 1024)}`);
    await expect.poll(() => budget.usedBytes, { timeout: 5000 }).toBeGreaterThan(90 * 1024);
    const second = await idle(rig.port());
    second.socket.write(`{"value":"${'x'.repeat(6 * 1024)}`);
    await second.closed;
    await rig.logger.waitFor(/gateway-wide input budget \(gateway.maxBufferedBytes 102400\) is spent/, { level: 'error' });
    expect(first.socket.destroyed).toBe(false);
    first.socket.end(`","action":"command","device":"dev1","channel":"blob","id":"first","apikey":"${APIKEY}"}`);
    await first.closed;
    expect((await rig.waitCommands(1)).map((c) => c.ref)).toEqual(['first']);
    expect(budget.usedBytes).toBe(90 * 1024);
  });
});

describe('jeedom - callback URL (13.11)', () => {
  const t = rigAndPeer();

  it('jeedom - (13.11) the key joins a callback that has a query with &, and a callback that already carries it gets no second one', async () => {
    expect(withApikey('http://h/x.php', 'K')).toBe('http://h/x.php?apikey=K');
    expect(withApikey('http://h/x.php?plugin=patchbay', 'K')).toBe('http://h/x.php?plugin=patchbay&apikey=K');
    expect(withApikey('http://h/x.php?', 'K')).toBe('http://h/x.php?apikey=K');
    expect(withApikey('http://h/x.php?apikey=K', 'K')).toBe('http://h/x.php?apikey=K');
    expect(withApikey('http://h/x.php?a=1&apikey=K#top', 'K')).toBe('http://h/x.php?a=1&apikey=K');
    const peer = (t.peer = await PhpCallback.start({ apikey: APIKEY }));
    const rig = (t.rig = await startRig({ callback: `${peer.url}?plugin=patchbay&apikey=${APIKEY}`, cycle: 0 }));
    rig.driver.emit('temperature', 20);
    const post = await peer.waitFor((rs) => rs.find((r) => r.method === 'POST'), 'a POST');
    expect(post.uri).toBe(`/plugins/patchbay/core/php/jeePatchbay.php?plugin=patchbay&apikey=${APIKEY}`);
    expect(post.query).toEqual({ plugin: 'patchbay', apikey: APIKEY });
  });
});
