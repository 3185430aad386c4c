import { connect, type Socket } from 'node:net';
import { ErrorCodes, isPatchbayError, silentLogger, type HostContext } from '@patchbay/core';
import { halfOpenRequest, Signal } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import wsAdapter, { wsConfig } from '../src/index.js';
import type { TestClient} from './rig.js';
import { rawUpgrade, startRig, type Message, type Rig, type RigSetup } from './rig.js';

const rigs: Rig[] = [];
afterEach(async () => {
  while (rigs.length > 0) await (rigs.pop() as Rig).stop();
});
async function rig(options: Record<string, unknown> = {}, setup: RigSetup = {}): Promise<Rig> {
  const r = await startRig({ healthIntervalMs: 0, ...options }, setup);
  rigs.push(r);
  return r;
}

/** Send a raw upgrade and resolve once the whole answer is in, keeping the client's side open. */
function halfOpenUpgrade(port: number, headers: Record<string, string>): Promise<{ socket: Socket; text: string }> {
  return halfOpenRequest(port, upgradeRequest(port, headers));
}

function upgradeRequest(port: number, headers: Record<string, string>): string {
  const lines = ['GET /ws HTTP/1.1', `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return lines.join('\r\n') + '\r\n\r\n';
}

/** Send a raw upgrade and reset the connection as soon as the request is out. */
function resetUpgrade(port: number, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => {
      socket.write(upgradeRequest(port, headers));
      setImmediate(() => {
        socket.resetAndDestroy();
        resolve();
      });
    });
    socket.on('error', () => resolve());
  });
}

const isState = (channel: string, value: unknown) => (m: Message) => m.type === 'state' && m.device === 'dev1' && m.channel === channel && m.value === value;

describe('ws - snapshot and live events', () => {
  it('ws - a client gets every device state and every host status first, then live events', async () => {
    const r = await rig();
    r.driver.emit('temperature', 20.5);
    await r.other.waitFor((e) => e.kind === 'state' && e.value === 20.5);
    const client = await r.connect();
    const snapshot = client.messages[0] as Message & { devices: { device: string; channels: { channel: string; value: unknown }[] }[]; health: { hosts: { id: string; status: string }[] } };
    expect(snapshot.type).toBe('snapshot');
    expect(snapshot.devices).toEqual([expect.objectContaining({ device: 'dev1', available: true, channels: [expect.objectContaining({ channel: 'temperature', value: 20.5 })] })]);
    expect(snapshot.health.hosts.map((h) => [h.id, h.status]).sort()).toEqual([
      ['other', 'alive'],
      ['ws', 'alive'],
    ]);
    r.driver.emit('temperature', 21);
    await expect(client.waitFor(isState('temperature', 21), 'the live state')).resolves.toMatchObject({ time: expect.any(Number), id: expect.any(String) });
    // A device status change is news too.
    r.driver.crash();
    await expect(client.waitFor((m) => m.type === 'status' && m.endpoint === 'dev1' && m.status !== 'alive', 'a device status event')).resolves.toBeDefined();
  });

  it('ws - sends a periodic health message with queue depth and delivered and failed counts', async () => {
    const r = await rig({ healthIntervalMs: 50 });
    const client = await r.connect();
    r.driver.emit('humidity', 40);
    const health = (await client.waitFor((m) => m.type === 'health' && (m.hosts as { id: string; delivered: number }[]).some((h) => h.id === 'other' && h.delivered > 0), 'a health message')) as Message & {
      hosts: Record<string, unknown>[];
    };
    expect(health.hosts.find((h) => h.id === 'other')).toMatchObject({ status: 'alive', queued: expect.any(Number), delivered: expect.any(Number), failed: 0 });
  });

  it('ws - start fails with a coded error when the gateway runs no HTTP server', async () => {
    const ctx = { id: 'ws', logger: silentLogger, http: undefined, counter: () => ({ inc: () => undefined }) } as unknown as HostContext;
    const adapter = wsAdapter.create(wsConfig.parse({}), ctx);
    const error = await Promise.resolve(adapter.start()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isPatchbayError(error, ErrorCodes.CONFIG_INVALID)).toBe(true);
    expect((error as Error).message).toMatch(/gateway\.http/);
  });

  it('ws - stop closes every client with 1001 and unmounts; a second start serves again', async () => {
    const r = await rig();
    const client = await r.connect();
    await r.gateway.stop({ drainTimeoutMs: 200 });
    await expect(client.waitClosed()).resolves.toMatchObject({ code: 1001, reason: 'gateway stopping' });
    expect(r.http.upgrades.size).toBe(0);
    expect(r.http.routes.size).toBe(0);
    await r.gateway.start();
    await r.driver.waitRunning(2);
    const again = await r.connect();
    r.driver.emit('relay', true);
    await expect(again.waitFor(isState('relay', true), 'state after restart')).resolves.toBeDefined();
  });
});

describe('ws - commands', () => {
  it('ws - command round trip: the reply carries the client id and the device answer', async () => {
    const r = await rig();
    const client = await r.connect();
    client.send({ type: 'command', id: 'c-1', device: 'dev1', channel: 'relay', value: true });
    const reply = await client.waitFor((m) => m.type === 'reply' && m.id === 'c-1', 'the reply');
    expect(reply).toMatchObject({ ok: true, value: true, device: 'dev1' });
    expect(r.driver.commands.at(-1)).toMatchObject({ device: 'dev1', channel: 'relay', value: true, origin: 'ws', ref: 'c-1' });
    client.send({ type: 'command', id: 7, device: 'dev1', action: 'refresh' });
    await expect(client.waitFor((m) => m.type === 'reply' && m.id === 7, 'the numeric-id reply')).resolves.toMatchObject({ ok: true });
  });

  it('ws - the reply goes only to the client that asked', async () => {
    const r = await rig();
    const asker = await r.connect();
    const bystander = await r.connect();
    asker.send({ type: 'command', id: 'mine', device: 'dev1', channel: 'relay', value: true });
    await asker.waitFor((m) => m.type === 'reply' && m.id === 'mine', 'the asker reply');
    // The bystander's own round trip comes after: had the asker's reply gone to it, it would be there.
    bystander.send({ type: 'command', id: 'theirs', device: 'dev1', channel: 'relay', value: false });
    await bystander.waitFor((m) => m.type === 'reply' && m.id === 'theirs', 'the bystander reply');
    expect(bystander.messages.filter((m) => m.type === 'reply').map((m) => m.id)).toEqual(['theirs']);
    expect(asker.messages.filter((m) => m.type === 'reply').map((m) => m.id)).toEqual(['mine']);
    expect(r.other.delivered.filter((e) => e.kind === 'reply')).toEqual([]);
  });

  it('ws - an unknown device gets a failed reply with a code', async () => {
    const r = await rig();
    const client = await r.connect();
    client.send({ type: 'command', id: 'x', device: 'nope', channel: 'relay', value: true });
    await expect(client.waitFor((m) => m.type === 'reply' && m.id === 'x', 'the failed reply')).resolves.toMatchObject({ ok: false, code: ErrorCodes.UNKNOWN_DEVICE, error: expect.stringContaining('nope') });
  });

  it('ws - too many unanswered commands from one client: the extra one is refused at once', async () => {
    const r = await rig({ maxPendingCommands: 2 });
    const release: (() => void)[] = [];
    r.driver.answer = () => new Promise((resolve) => release.push(() => resolve({ ok: true, value: 1 })));
    const client = await r.connect();
    for (const id of ['a', 'b', 'c']) client.send({ type: 'command', id, device: 'dev1', channel: 'relay', value: true });
    await expect(client.waitFor((m) => m.type === 'reply' && m.id === 'c', 'the refusal')).resolves.toMatchObject({ ok: false, code: 'PB208_OUTBOX_FULL' });
    for (const go of release) go();
    await client.waitCount((m) => m.type === 'reply' && m.ok === true, { count: 2, what: 'the two answered replies' });
    expect(r.adapter().stats().badMessages).toBe(1);
  });
});

describe('ws - bad upgrades', () => {
  it('ws - a wrong or missing token is refused with 401 and a reason; the right one passes three ways', async () => {
    const r = await rig({ token: 's3cret-token' });
    const wrong = await rawUpgrade(r.http.port, { Authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toMatch(/WWW-Authenticate: Bearer/);
    expect(wrong.text).toMatch(/wrong token/);
    const missing = await rawUpgrade(r.http.port, {});
    expect(missing.status).toBe(401);
    expect(missing.text).toMatch(/a token is required/);
    const viaQuery = await rawUpgrade(r.http.port, {}, '/ws?token=bad');
    expect(viaQuery.status).toBe(401);
    expect(r.adapter().stats().rejectedUpgrades).toBe(3);
    expect(r.recorded.lines.filter((l) => l.message.startsWith('ws upgrade refused')).map((l) => l.level)).toEqual(['warn', 'warn', 'warn']);
    expect(r.recorded.counters.get('patchbay_ws_upgrades_rejected_total')).toBe(3);
    // The token itself is never logged.
    expect(r.recorded.lines.some((l) => l.message.includes('s3cret-token'))).toBe(false);
    await expect(r.connect({ headers: { Authorization: 'Bearer s3cret-token' } })).resolves.toBeDefined();
    await expect(r.connect({ query: '?token=s3cret-token' })).resolves.toBeDefined();
    const viaProtocol = await r.connect({ protocols: ['patchbay.v1', 'bearer.s3cret-token'] });
    expect(viaProtocol.socket.protocol).toBe('patchbay.v1');
    expect(r.adapter().stats().clients).toBe(3);
  });

  it('ws - a foreign origin is refused with 403; the same host and listed origins pass; others keep flowing', async () => {
    const r = await rig();
    const bystander = await r.connect();
    const foreign = await rawUpgrade(r.http.port, { Origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.text).toMatch(/origin "http:\/\/evil.example" is not allowed/);
    await expect(r.connect({ origin: `http://127.0.0.1:${r.http.port}` })).resolves.toBeDefined();
    r.driver.emit('temperature', 30);
    await expect(bystander.waitFor(isState('temperature', 30), 'state after the refusal')).resolves.toBeDefined();

    const listed = await rig({ allowedOrigins: ['https://dash.example'] });
    await expect(listed.connect({ origin: 'https://dash.example' })).resolves.toBeDefined();
    expect((await rawUpgrade(listed.http.port, { Origin: `http://127.0.0.1:${listed.http.port}` })).status).toBe(403);
  });

  it('ws - with no token, a DNS-rebinding page (its own name as Host and Origin) is refused with 403; localhost and IP addresses pass', async () => {
    const r = await rig();
    const port = r.http.port;
    const rebound = await rawUpgrade(port, { Host: `rebound.example:${port}`, Origin: `http://rebound.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(rebound.text).toMatch(/not a name such as "rebound\.example:\d+" that DNS rebinding can point anywhere \(set options\.token or options\.allowedOrigins\)/);
    expect(r.recorded.find(/^ws upgrade refused: origin "http:\/\/rebound\.example:\d+" is not allowed/, 'warn')).toHaveLength(1);
    // The ws client sends the Host given here: the same request under the rebound name is refused.
    const viaWs = new WebSocket(r.wsUrl, { origin: `http://rebound.example:${port}`, headers: { Host: `rebound.example:${port}` } });
    const outcome = new Promise((resolve, reject) => {
      viaWs.once('error', reject);
      viaWs.once('open', () => resolve(viaWs.terminate()));
    });
    await expect(outcome).rejects.toThrow(/Unexpected server response: 403/);
    await expect(r.connect({ origin: `http://localhost:${port}`, headers: { Host: `localhost:${port}` } })).resolves.toBeDefined();
    await expect(r.connect({ origin: `http://127.0.0.1:${port}` })).resolves.toBeDefined();
    // Non-browser clients send no Origin and are not affected, whatever name they used.
    await expect(r.connect({ headers: { Host: `gateway.example:${port}` } })).resolves.toBeDefined();
    // A name is fine once it is listed.
    const listed = await rig({ allowedOrigins: ['http://gateway.example'] });
    await expect(listed.connect({ origin: 'http://gateway.example', headers: { Host: 'gateway.example' } })).resolves.toBeDefined();
  });

  it('ws - a full server refuses with 503', async () => {
    const r = await rig({ maxClients: 1 });
    await r.connect();
    const refused = await rawUpgrade(r.http.port, {});
    expect(refused.status).toBe(503);
    expect(refused.text).toMatch(/too many clients/);
  });

  it('ws - clients resetting refused upgrades (token, origin, full) are logged at debug; the process and the others carry on', async () => {
    const r = await rig({ token: 't0ken', maxClients: 1 });
    const bystander = await r.connect({ query: '?token=t0ken' });
    const uncaught: unknown[] = [];
    const recordUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', recordUncaught);
    try {
      const serverSide = new Signal();
      let opened = 0;
      let closed = 0;
      r.http.server.on('connection', (socket) => {
        opened++;
        socket.once('close', () => {
          closed++;
          serverSide.notify();
        });
      });
      const refusals: { headers: Record<string, string>; status: number }[] = [
        { headers: { Authorization: 'Bearer wrong' }, status: 401 },
        { headers: { Authorization: 'Bearer t0ken', Origin: 'http://evil.example' }, status: 403 },
        { headers: { Authorization: 'Bearer t0ken' }, status: 503 },
      ];
      const rounds = 5;
      for (let i = 0; i < rounds; i++) {
        for (const refusal of refusals) {
          // Reset as soon as the request is out, racing the server's answer (the reported crash)...
          await resetUpgrade(r.http.port, refusal.headers);
          // ...and after reading the answer, on a socket the server still holds: its next read fails with ECONNRESET.
          const { socket, text } = await halfOpenUpgrade(r.http.port, refusal.headers);
          expect(text).toMatch(new RegExp(`^HTTP/1\\.1 ${refusal.status} `));
          socket.resetAndDestroy();
        }
      }
      const connections = 2 * rounds * refusals.length;
      await serverSide.waitUntil(() => (opened === connections && closed === connections ? true : undefined), { what: `the server to close all ${connections} refused connections` });
      expect(uncaught).toEqual([]);
      expect(r.recorded.find(/ws upgrade connection failed/, 'debug').length).toBeGreaterThanOrEqual(rounds * refusals.length);
    } finally {
      process.off('uncaughtException', recordUncaught);
    }
    r.driver.emit('temperature', 31);
    await expect(bystander.waitFor(isState('temperature', 31), 'state after the resets')).resolves.toBeDefined();
  });

  it('ws - a refused client that never closes its side is cut off by the server', async () => {
    const r = await rig({ token: 't0ken' });
    const serverSide = new Signal();
    let closedOnServer = false;
    r.http.server.once('connection', (socket) =>
      socket.once('close', () => {
        closedOnServer = true;
        serverSide.notify();
      }),
    );
    const { socket, text } = await halfOpenUpgrade(r.http.port, { Authorization: 'Bearer wrong' });
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
    await serverSide.waitUntil(() => (closedOnServer ? true : undefined), { what: 'the server to close the refused connection' });
    socket.destroy();
  });
});

describe('ws - bad messages', () => {
  it('ws - malformed, binary, unknown and invalid messages get an error; the connection and others carry on', async () => {
    const r = await rig();
    const sender = await r.connect();
    const bystander = await r.connect();
    sender.send('{not json');
    sender.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    sender.send({ type: 'subscribe', id: 'u1' });
    sender.send({ type: 'command', id: 'v1', channel: 'relay' });
    sender.send([1, 2]);
    const errors = await sender.waitCount((m) => m.type === 'error', { count: 5, what: 'error messages' });
    expect(errors).toBe(5);
    const texts = sender.messages.filter((m) => m.type === 'error');
    expect(texts.map((m) => m.code)).toEqual(Array(5).fill(ErrorCodes.COMMAND_INVALID));
    expect(texts[0]?.error).toMatch(/^not JSON/);
    expect(texts[1]?.error).toMatch(/binary messages are not accepted/);
    expect(texts[2]).toMatchObject({ id: 'u1', error: expect.stringMatching(/unknown message type "subscribe"/) });
    expect(texts[3]).toMatchObject({ id: 'v1', error: expect.stringMatching(/device/) });
    expect(texts[4]?.error).toMatch(/expected a JSON object/);
    expect(r.adapter().stats().badMessages).toBe(5);
    // One log line and one counter increment per bad message.
    expect(r.recorded.lines.filter((l) => l.level === 'warn' && l.message.startsWith('ws message from')).length).toBe(5);
    expect(r.recorded.counters.get('patchbay_ws_bad_messages_total')).toBe(5);
    // Still open, still served.
    sender.send({ type: 'command', id: 'ok', device: 'dev1', channel: 'relay', value: true });
    await expect(sender.waitFor((m) => m.type === 'reply' && m.id === 'ok', 'a reply after the errors')).resolves.toMatchObject({ ok: true });
    expect(bystander.messages.filter((m) => m.type === 'error')).toEqual([]);
  });

  it('ws - a message nested deeper than 64 levels gets an error before validation; the connection and others carry on', async () => {
    const r = await rig();
    const sender = await r.connect();
    const bystander = await r.connect();
    // About 10 KB, well under maxPayload, yet deep enough to overflow the stack of a recursive validator or JSON.stringify.
    const depth = 5000;
    sender.send(`{"type":"command","id":"deep","device":"dev1","channel":"c","value":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    const error = await sender.waitFor((m) => m.type === 'error' && m.id === 'deep', 'the error for the deep message');
    expect(error).toMatchObject({ code: ErrorCodes.COMMAND_INVALID, error: expect.stringMatching(/nested deeper than 64 levels/) });
    expect(r.recorded.find(/^ws message from .* refused: nested deeper than 64 levels/, 'warn')).toHaveLength(1);
    expect(r.driver.commands).toEqual([]);
    sender.send({ type: 'command', id: 'ok', device: 'dev1', channel: 'relay', value: [[[true]]] });
    await expect(sender.waitFor((m) => m.type === 'reply' && m.id === 'ok', 'a reply after the deep message')).resolves.toMatchObject({ ok: true });
    expect(bystander.messages.filter((m) => m.type === 'error')).toEqual([]);
  });

  it('ws - a command the core fails to take (submit throws or rejects) is answered with an error; the client carries on', async () => {
    let mode: 'throw' | 'reject' | 'pass' = 'throw';
    const r = await rig(
      { maxPendingCommands: 1 },
      {
        context: (ctx) => ({
          ...ctx,
          submit: (command, options) => {
            if (mode === 'throw') throw new Error('core fault (thrown)');
            if (mode === 'reject') return Promise.reject(new Error('core fault (rejected)'));
            return ctx.submit(command, options);
          },
        }),
      },
    );
    const client = await r.connect();
    client.send({ type: 'command', id: 't', device: 'dev1', channel: 'relay', value: true });
    await expect(client.waitFor((m) => m.type === 'error' && m.id === 't', 'the error for the thrown submit')).resolves.toMatchObject({ error: expect.stringMatching(/could not be run \(core fault \(thrown\)\)/) });
    mode = 'reject';
    client.send({ type: 'command', id: 'r', device: 'dev1', channel: 'relay', value: true });
    await expect(client.waitFor((m) => m.type === 'error' && m.id === 'r', 'the error for the rejected submit')).resolves.toMatchObject({ error: expect.stringMatching(/could not be run \(core fault \(rejected\)\)/) });
    // Neither left a command counted as pending: with maxPendingCommands 1, the next one still runs.
    mode = 'pass';
    client.send({ type: 'command', id: 'ok', device: 'dev1', channel: 'relay', value: true });
    await expect(client.waitFor((m) => m.type === 'reply' && m.id === 'ok', 'a reply after the faults')).resolves.toMatchObject({ ok: true });
    expect(r.recorded.find(/^ws message from .* refused: could not be run/, 'warn')).toHaveLength(2);
  });

  it('ws - an oversized message closes that client with 1009; the others are not affected', async () => {
    const r = await rig({ maxPayload: 1024 });
    const big = await r.connect();
    const bystander = await r.connect();
    big.send({ type: 'command', id: 'big', device: 'dev1', channel: 'relay', value: 'x'.repeat(2000) });
    await expect(big.waitClosed()).resolves.toMatchObject({ code: 1009 });
    expect(r.driver.commands).toEqual([]);
    r.driver.emit('temperature', 12);
    await expect(bystander.waitFor(isState('temperature', 12), 'state after the oversized message')).resolves.toBeDefined();
    expect(r.adapter().stats()).toMatchObject({ clients: 1, badMessages: 1 });
  });
});

describe('ws - socket writes', () => {
  /** Count each server-side socket's writes as the stream hands them to the kernel (_write: one chunk, _writev: several). */
  function countWrites(r: Rig): number[] {
    const writes: number[] = [];
    r.http.server.on('upgrade', (_request, socket: Socket & { _write: unknown; _writev: unknown }) => {
      const index = writes.push(0) - 1;
      for (const method of ['_write', '_writev'] as const) {
        const original = socket[method] as (...args: unknown[]) => void;
        socket[method] = function (this: Socket, ...args: unknown[]) {
          writes[index] = (writes[index] as number) + 1;
          return original.apply(this, args);
        };
      }
    });
    return writes;
  }

  /** Emit 20 states of about 270 bytes in one turn; each client gets every one, in order. */
  async function oneTurn(r: Rig, clients: TestClient[]): Promise<void> {
    for (let i = 0; i < 20; i++) r.driver.emit('blob', `${i}:${'w'.repeat(150)}`);
    for (const c of clients) {
      await c.waitCount((m) => m.type === 'state' && m.channel === 'blob', { count: 20, what: 'blob states' });
      const values = c.messages.filter((m) => m.type === 'state' && m.channel === 'blob').map((m) => Number(String(m.value).split(':')[0]));
      expect(values).toEqual(Array.from({ length: 20 }, (_, i) => i));
    }
  }

  it('ws - (20) the frames of one turn reach each client in one socket write; past maxBufferedBytes in a few, and a client that reads is not dropped', async () => {
    const r = await rig();
    const writes = countWrites(r);
    const clients = [await r.connect(), await r.connect()];
    writes.fill(0);
    await oneTurn(r, clients);
    expect(writes).toEqual([1, 1]);

    // A turn four times the bound: written out each time the bound is passed, judged on what the kernel did not take.
    const bounded = await rig({ maxBufferedBytes: 1024 });
    const boundedWrites = countWrites(bounded);
    const readers = [await bounded.connect(), await bounded.connect()];
    boundedWrites.fill(0);
    await oneTurn(bounded, readers);
    for (const n of boundedWrites) {
      expect(n).toBeGreaterThan(1);
      expect(n).toBeLessThanOrEqual(6);
    }
    expect(bounded.adapter().stats()).toMatchObject({ clients: 2, slowDropped: 0 });
  });

  it('ws - (20) a turn\'s broadcasts are framed once for every client: each client\'s one write is one chunk, the same memory for all', async () => {
    const r = await rig();
    const chunks: Buffer[][] = [];
    r.http.server.on('upgrade', (_request, socket: Socket & { _write: unknown; _writev: unknown }) => {
      const own = chunks[chunks.push([]) - 1] as Buffer[];
      const write = socket._write as (...args: unknown[]) => void;
      const writev = socket._writev as (...args: unknown[]) => void;
      socket._write = function (this: Socket, chunk: Buffer, ...rest: unknown[]) {
        own.push(chunk);
        return write.call(this, chunk, ...rest);
      };
      socket._writev = function (this: Socket, list: { chunk: Buffer }[], ...rest: unknown[]) {
        own.push(...list.map((c) => c.chunk));
        return writev.call(this, list, ...rest);
      };
    });
    const clients = [await r.connect(), await r.connect(), await r.connect()];
    for (const own of chunks) own.length = 0;
    await oneTurn(r, clients);
    expect(chunks.map((own) => own.length)).toEqual([1, 1, 1]);
    const [first, ...others] = chunks.map((own) => own[0] as Buffer);
    for (const other of others) {
      expect(other.buffer).toBe(first?.buffer);
      expect([other.byteOffset, other.length]).toEqual([first?.byteOffset, first?.length]);
    }
  });

  it('ws - (20) a quiet turn\'s frame goes out when its callback returns, not at the turn\'s end; after a busy turn, the frames of many callbacks share one write', async () => {
    const r = await rig();
    const writes = countWrites(r);
    const sockets: Socket[] = [];
    r.http.server.on('upgrade', (_request, socket: Socket) => sockets.push(socket));
    const clients = [await r.connect(), await r.connect()];
    const blobs = (c: TestClient) => c.messages.filter((m) => m.type === 'state' && m.channel === 'note').length;

    // Quiet: one frame, emitted after an immediate was queued. The core hands it over at once;
    // a write held to the turn's end would still be corked when that immediate runs.
    await new Promise<void>((resolve) => {
      setImmediate(() => {
        const before = sockets.map((s) => s.bytesWritten);
        setImmediate(() => {
          // bytesWritten counts what a corked socket holds too: the frame is out once nothing is corked.
          expect(sockets.map((s, i) => [s.bytesWritten > (before[i] as number), s.writableCorked])).toEqual([[true, 0], [true, 0]]);
          resolve();
        });
        r.driver.emit('note', 'quiet');
      });
    });
    for (const c of clients) await c.waitCount((m) => m.type === 'state' && m.channel === 'note', { count: 1, what: 'the quiet frame' });

    // A busy turn (20 frames to each of two clients), then ten callbacks of one frame each in one turn.
    await oneTurn(r, clients);
    writes.fill(0);
    for (let i = 0; i < 10; i++) setImmediate(() => r.driver.emit('note', `spread ${i}`));
    for (const c of clients) await c.waitCount((m) => m.type === 'state' && m.channel === 'note', { count: 11, what: 'the spread frames' });
    expect(clients.map(blobs)).toEqual([11, 11]);
    expect(writes).toEqual([1, 1]);
  });

  it('ws - (12) a reply is written before its turn ends, after a busy turn too, with the state its command made ahead of it in the same write', async () => {
    const r = await rig();
    // The device reports the relay's new state before it answers, as a real relay does.
    r.driver.answer = (command) => {
      r.driver.emit('relay', command.value ?? null);
      return { ok: true, value: command.value ?? null };
    };
    const sockets: (Socket & { _write: unknown; _writev: unknown })[] = [];
    r.http.server.on('upgrade', (_request, socket: Socket & { _write: unknown; _writev: unknown }) => sockets.push(socket));
    const asker = await r.connect();
    const bystander = await r.connect();
    const target = sockets[0] as Socket & { _write: unknown; _writev: unknown }; // the asker's, server side
    // The turn the command arrives in is open until an immediate queued on its arrival runs;
    // a write held to that turn's end comes after it (ahead of ws, which may answer in its own listener).
    let turnOpen = false;
    target.prependListener('data', () => {
      turnOpen = true;
      setImmediate(() => (turnOpen = false));
    });
    const writes: { turnOpen: boolean; chunks: number }[] = [];
    for (const method of ['_write', '_writev'] as const) {
      const original = target[method] as (...args: unknown[]) => void;
      target[method] = function (this: Socket, ...args: unknown[]) {
        writes.push({ turnOpen, chunks: method === '_writev' ? (args[0] as unknown[]).length : 1 });
        return original.apply(this, args);
      };
    }

    await oneTurn(r, [asker, bystander]); // 40 frames: the next turn with frames is a busy one
    writes.length = 0;
    asker.send({ type: 'command', id: 'after-busy', device: 'dev1', channel: 'relay', value: true });
    await asker.waitFor((m) => m.type === 'reply' && m.id === 'after-busy', 'the reply');
    // The state goes as the one frame made for every client, the reply as ws writes a frame
    // (header and payload): three chunks in one write.
    expect(writes).toEqual([{ turnOpen: true, chunks: 3 }]);
    const last = asker.messages.slice(-2).map((m) => [m.type, m.channel ?? m.id]);
    expect(last).toEqual([['state', 'relay'], ['reply', 'after-busy']]);
    await bystander.waitFor((m) => m.type === 'state' && m.channel === 'relay', 'the bystander\'s relay state');
  });
});

describe('ws - slow clients', () => {
  it('ws - (20) a client connecting while events stream is not dropped for reading a snapshot larger than maxBufferedBytes; it gets every event after it', async () => {
    const maxBufferedBytes = 64 * 1024;
    const r = await rig({ maxBufferedBytes });
    // A state of about 24 MB (a large installation's): far more than the kernel's socket buffers
    // take at once, so the snapshot is still the client's backlog when the next events go out.
    const wide = 'w'.repeat(16 * 1024);
    for (let i = 0; i < 1500; i++) r.driver.emit(`wide${i}`, `${i}:${wide}`);
    let ticks = 0;
    let connected = false;
    const connecting = r.connect().finally(() => (connected = true));
    // Steady traffic while it connects and reads its snapshot: one event a turn.
    while (!connected) {
      r.driver.emit('tick', ticks++);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const client = await connecting;
    for (let i = 0; i < 20; i++) r.driver.emit('tick', ticks++);
    await client.waitFor(isState('tick', ticks - 1), 'the last tick');
    expect(r.adapter().stats().slowDropped).toBe(0);
    expect(client.closed).toBeUndefined();
    const snapshot = client.messages[0] as unknown as { type: string; devices: { device: string; channels: { channel: string; value: unknown }[] }[] };
    expect(snapshot.type).toBe('snapshot');
    const channels = snapshot.devices.find((d) => d.device === 'dev1')?.channels ?? [];
    expect(channels.filter((c) => c.channel.startsWith('wide'))).toHaveLength(1500);
    // Every tick after the snapshot's, in order, none twice.
    const fromSnapshot = channels.find((c) => c.channel === 'tick')?.value;
    const first = typeof fromSnapshot === 'number' ? fromSnapshot + 1 : 0;
    const received = client.messages.filter((m) => m.type === 'state' && m.channel === 'tick').map((m) => m.value);
    expect(received).toEqual(Array.from({ length: ticks - first }, (_, i) => first + i));
    expect(ticks - first).toBeGreaterThan(20);
    // Once the snapshot is out, the usual bound is back: a client that now stops reading is dropped.
    (client.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const payload = 'v'.repeat(2048);
    for (let round = 0; round < 400 && r.adapter().stats().slowDropped === 0; round++) {
      for (let i = 0; i < 50; i++) r.driver.emit('blob', payload);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(r.adapter().stats().slowDropped).toBe(1);
  });

  it('ws - a client that stops answering keep-alive pings is dropped; one that answers stays', async () => {
    const r = await rig({ pingIntervalMs: 50 });
    const silent = await r.connect({ autoPong: false });
    const lively = await r.connect();
    await expect(silent.waitClosed()).resolves.toMatchObject({ code: 1006 });
    expect(lively.closed).toBeUndefined();
    expect(r.adapter().stats().clients).toBe(1);
    expect(r.recorded.lines.filter((l) => /missed a keep-alive pong/.test(l.message))).toHaveLength(1);
    r.driver.emit('temperature', 5);
    await expect(lively.waitFor(isState('temperature', 5), 'state after the drop')).resolves.toBeDefined();
  });

  it('ws - ten clients, one stops reading: the nine get every event, the stalled one is dropped, the backlog stays bounded', async () => {
    const maxBufferedBytes = 64 * 1024;
    const r = await rig({ maxBufferedBytes });
    const clients: TestClient[] = [];
    for (let i = 0; i < 10; i++) clients.push(await r.connect());
    const stalled = clients[0] as TestClient;
    const healthy = clients.slice(1);
    // Stop reading: the kernel buffers fill, then the server-side backlog grows until the bound.
    (stalled.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const payload = 'v'.repeat(2048);
    let sent = 0;
    // Emit in rounds, each after the healthy clients have everything so far, until the drop.
    // About 4 MB of kernel buffers fill first (≈ 2,000 events here); 20,000 events is ten times that.
    for (let round = 0; round < 400 && r.adapter().stats().slowDropped === 0; round++) {
      for (let i = 0; i < 50; i++) r.driver.emit('blob', `${sent++}:${payload}`);
      await Promise.all(healthy.map((c) => c.waitCount((m) => m.type === 'state' && m.channel === 'blob', { count: sent, what: 'blob states', timeoutMs: 15_000 })));
    }
    const stats = r.adapter().stats();
    expect(stats.slowDropped).toBe(1);
    expect(r.recorded.lines.filter((l) => l.level === 'warn' && /dropped: it stopped reading/.test(l.message))).toHaveLength(1);
    expect(r.recorded.counters.get('patchbay_ws_slow_clients_dropped_total')).toBe(1);
    expect(stats.clients).toBe(9);
    // Bounded: never more than the bound plus the one message that crossed it.
    expect(stats.maxBufferedSeen).toBeLessThanOrEqual(maxBufferedBytes + 4096);
    // Every healthy client got every event, in order.
    for (const c of healthy) {
      const values = c.messages.filter((m) => m.type === 'state' && m.channel === 'blob').map((m) => Number(String(m.value).split(':')[0]));
      expect(values).toEqual(Array.from({ length: sent }, (_, i) => i));
    }
    // And keep receiving after the drop.
    r.driver.emit('temperature', 99);
    await Promise.all(healthy.map((c) => c.waitFor(isState('temperature', 99), 'state after the drop')));
  });
});
