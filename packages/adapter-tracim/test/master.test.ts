import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway } from '@patchbay/core';
import { captureLogger, Signal, tempDir } from '@patchbay/testing';
import tracimAdapter from '../src/index.js';
import { sendOnce, type TracimMaster } from '../src/internal.js';
import { PYTHON, rawListener, startMaster, startPyPeer, type MasterRig, type PyPeer } from './helpers.js';

const TIME_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

describe('tracim master - wire (M items, against the Python SDK-like peer)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void>)().catch(() => undefined);
  });
  async function rig(options: Record<string, unknown> = {}, extra: Parameters<typeof startMaster>[1] = {}): Promise<MasterRig> {
    const r = await startMaster(options, extra);
    cleanups.push(() => r.close());
    return r;
  }
  async function peer(r: MasterRig, name: string, args: string[] = []): Promise<PyPeer> {
    const p = await startPyPeer({ master: r.master, path: join(r.dir, `${name}.sock`), args });
    cleanups.push(() => p.kill());
    return p;
  }

  it('tracim - M1 listens on a Unix stream socket at the configured path, mode 0600; SOCK_DGRAM cannot talk to it', async () => {
    const r = await rig();
    const stats = statSync(r.master);
    expect(stats.isSocket()).toBe(true);
    expect(stats.mode & 0o777).toBe(0o600);
    const dgram = spawnSync(PYTHON, ['-c', 'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ntry:\n s.connect(sys.argv[1]); print("connected")\nexcept OSError as e: print("refused", e.errno)', r.master], { encoding: 'utf8' });
    expect(dgram.stdout).toMatch(/^refused/);
  });

  it('tracim - M2 M4 M5 one compact JSON object per dialed connection, path = master path, key order path/type/data, no data key without payload', async () => {
    const r = await rig({ pingInterval: 200 });
    const c = await peer(r, 'c');
    await c.waitFor('daemon_account_info');
    await c.waitFor('daemon_ping');
    await c.waitFor('daemon_ack'); // the ack of its pong
    const raws = c.records.filter((x) => x.ev === 'recv');
    expect(raws.length).toBeGreaterThanOrEqual(4);
    for (const rec of raws) {
      const raw = rec.raw as string;
      expect(raw.endsWith('\n')).toBe(false);
      expect(raw).toBe(JSON.stringify(JSON.parse(raw)));
      const msg = JSON.parse(raw) as Record<string, unknown>;
      expect(msg.path).toBe(r.master);
      expect(Object.keys(msg).slice(0, 2)).toEqual(['path', 'type']);
      if (msg.type === 'daemon_ping' || msg.type === 'daemon_ack') expect(Object.keys(msg)).toEqual(['path', 'type']);
      else expect(Object.keys(msg)).toEqual(['path', 'type', 'data']);
    }
  });

  it('tracim - M3 never writes on an inbound connection; the reply comes on a new connection', async () => {
    const r = await rig({ readTimeoutMs: 300 });
    const c = await peer(r, 'c', ['--no-register']);
    // A sender that half-closes and keeps reading gets EOF with no bytes.
    const got = await new Promise<number>((resolve) => {
      const s = connect({ path: r.master });
      let n = 0;
      s.on('connect', () => s.end(JSON.stringify({ path: c.path, type: 'daemon_ping' })));
      s.on('data', (d: Buffer) => (n += d.length));
      s.on('close', () => resolve(n));
    });
    expect(got).toBe(0);
    await expect(c.waitFor('daemon_pong')).resolves.toEqual({ path: r.master, type: 'daemon_pong' });
    // One that never closes receives nothing either, and is cut off by the read timeout.
    const silent = await new Promise<number>((resolve) => {
      const s = connect({ path: r.master });
      let n = 0;
      s.on('connect', () => s.write(JSON.stringify({ path: c.path, type: 'daemon_ping' })));
      s.on('data', (d: Buffer) => (n += d.length));
      s.on('close', () => resolve(n));
    });
    expect(silent).toBe(0);
  });

  it('tracim - M6 accepts data present, null or absent, compact or pretty, with or without a trailing newline', async () => {
    const r = await rig();
    const c = await peer(r, 'c', ['--no-register']);
    await c.send(`{"path":"${c.path}","type":"daemon_get_account_info"}`);
    await c.send(`{"path": "${c.path}", "type": "daemon_get_account_info", "data": null}\n`);
    await c.send(JSON.stringify({ path: c.path, type: 'daemon_get_account_info', data: {} }, null, 2));
    await c.send(JSON.stringify({ path: c.path, type: 'daemon_get_account_info', data: null }, null, 4) + '\n');
    await c.waitFor('daemon_account_info', 4);
  });

  it('tracim - M7 invalid JSON or an empty connection gets no reply and does not stop the master', async () => {
    const r = await rig();
    const c = await peer(r, 'c', ['--no-register']);
    await c.send(`{"path":"${c.path}","type":"daemon_ping"`);
    await new Promise<void>((resolve) => {
      const s = connect({ path: r.master });
      s.on('connect', () => s.end());
      s.on('close', () => resolve());
    });
    await r.logger.waitFor(/invalid JSON/);
    await r.logger.waitFor(/empty connection/);
    await c.send({ path: c.path, type: 'daemon_get_account_info' });
    await c.waitFor('daemon_account_info');
    expect(c.received()).toHaveLength(1);
  });

  it('tracim - M8 a TLM over 4096 bytes is shrunk under the default policy and logged', async () => {
    const r = await rig();
    const c = await peer(r, 'c');
    await c.waitFor('daemon_account_info');
    r.driver.emit('text', 'x'.repeat(6000));
    const msg = await c.waitFor('daemon_tracim_event');
    const rec = c.records.find((x) => x.ev === 'recv' && x.msg?.type === 'daemon_tracim_event');
    expect(rec?.bytes).toBeLessThanOrEqual(4096);
    const tlm = JSON.parse(msg.data as string) as { fields: { channel: string; value: unknown } };
    expect(tlm.fields).toMatchObject({ channel: 'text', value: '' });
    expect(r.logger.find(/shrunk from \d+ to \d+ bytes/)).toHaveLength(1);
  });

  it('tracim - M8 under policy skip an oversized TLM is skipped and logged; the next one arrives', async () => {
    const r = await rig({ sizePolicy: 'skip' });
    const c = await peer(r, 'c');
    await c.waitFor('daemon_account_info');
    r.driver.emit('text', 'x'.repeat(6000));
    r.driver.emit('text', 'small');
    const msg = await c.waitFor('daemon_tracim_event');
    expect(JSON.parse(msg.data as string).fields.value).toBe('small');
    expect(r.logger.find(/does not fit the 4096-byte limit/)).toHaveLength(1);
  });

  it('tracim - M8 under policy verbatim an oversized message is sent whole', async () => {
    const r = await rig({ sizePolicy: 'verbatim' });
    const c = await peer(r, 'c');
    await c.waitFor('daemon_account_info');
    r.driver.emit('text', 'x'.repeat(6000));
    await c.waitFor('daemon_tracim_event');
    const rec = c.records.find((x) => x.ev === 'recv' && x.msg?.type === 'daemon_tracim_event');
    expect(rec?.bytes).toBeGreaterThan(6000);
    expect(rec?.sdk_would_fail).toBe(true);
  });

  it('tracim - M9 six messages in a row to a backlog-1 client taking 1 s each all arrive, in order', async () => {
    const r = await rig();
    const c = await peer(r, 'c');
    await c.waitFor('daemon_client_added');
    await c.cmd({ cmd: 'slow', ms: 1000 });
    for (let i = 1; i <= 6; i++) r.driver.emit('n', i);
    await c.waitFor('daemon_tracim_event', 6, 20_000);
    const values = c.received('daemon_tracim_event').map((m) => JSON.parse(m.data as string).fields.value);
    expect(values).toEqual([1, 2, 3, 4, 5, 6]);
    expect(c.records.filter((x) => x.ev === 'error')).toEqual([]);
  }, 30_000);

  it('tracim - issue 20: a client that is behind gets each channel in its slot with the latest value, its event_ids still increasing', async () => {
    const r = await rig({ coalesceAfter: 1 });
    const me = await rawListener(join(r.dir, 'me.sock'));
    cleanups.push(() => me.close());
    const path = join(r.dir, 'me.sock');
    const msgs = () => me.messages.map((b) => JSON.parse(b.toString()) as { type: string; data?: unknown });
    await sendOnce(r.master, Buffer.from(JSON.stringify({ path, type: 'daemon_client_add', data: { path, pid: '1' } })), 2000);
    await me.changed.waitUntil(() => (msgs().some((m) => m.type === 'daemon_client_added') ? true : undefined), { what: 'client_added', timeoutMs: 10_000 });
    const tlms = () => msgs().flatMap((m) => (m.type === 'daemon_tracim_event' ? [JSON.parse(m.data as string) as { event_id: number; fields: { channel: string; value: unknown } }] : []));
    // z goes on its connection; a and b queue behind it, then change again, b first: a's slot
    // (numbered after b's new value) goes before b's.
    r.driver.emit('z', 0);
    r.driver.emit('a', 1);
    r.driver.emit('b', 1);
    r.driver.emit('b', 2);
    r.driver.emit('a', 2);
    await me.changed.waitUntil(() => (tlms().length >= 3 ? true : undefined), { what: '3 TLMs', timeoutMs: 10_000 });
    expect(tlms().map((t) => [t.fields.channel, t.fields.value])).toEqual([
      ['z', 0],
      ['a', 2],
      ['b', 2],
    ]);
    const ids = tlms().map((t) => t.event_id);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('tracim - M10 M24 registration: account_info with a digit user_id, then client_added to everyone including the newcomer', async () => {
    const r = await rig({ userId: '42' });
    const a = await peer(r, 'a', ['--pid', '111']);
    await a.waitFor('daemon_client_added');
    const b = await peer(r, 'b', ['--pid', '123']);
    await expect(b.waitFor('daemon_account_info')).resolves.toEqual({ path: r.master, type: 'daemon_account_info', data: { user_id: '42' } });
    const added = { path: r.master, type: 'daemon_client_added', data: { path: b.path, pid: '123' } };
    await expect(b.waitFor('daemon_client_added')).resolves.toEqual(added);
    await expect(a.waitFor('daemon_client_added', 2)).resolves.toEqual(added);
    // account_info was written before the broadcast.
    expect(b.received().map((m) => m.type).slice(0, 2)).toEqual(['daemon_account_info', 'daemon_client_added']);
    await b.waitRecord((x) => x.ev === 'handler' && x.key === 'daemon_account_info' && x.user_id === '42', 'the SDK-style handler to store user_id');
  });

  it('tracim - M11 a second registration of the same path: another account_info, no client_added, listed once', async () => {
    const r = await rig();
    const a = await peer(r, 'a');
    await a.waitFor('daemon_client_added');
    await a.cmd({ cmd: 'register' });
    await a.waitFor('daemon_account_info', 2);
    await a.send({ path: a.path, type: 'daemon_get_clients' });
    const clients = await a.waitFor('daemon_clients');
    expect(clients.data).toEqual([{ path: a.path, pid: expect.any(String) }]);
    expect(a.received('daemon_client_added')).toHaveLength(1);
  });

  it('tracim - M12 a numeric pid or no data does not crash the master; pids are listed as strings', async () => {
    const r = await rig();
    const a = await peer(r, 'a', ['--no-register']);
    await a.send({ path: a.path, type: 'daemon_client_add', data: { path: a.path, pid: 777 } });
    await a.waitFor('daemon_account_info');
    const b = await peer(r, 'b', ['--no-register']);
    await b.send({ path: b.path, type: 'daemon_client_add' });
    await b.waitFor('daemon_account_info');
    await b.send({ path: b.path, type: 'daemon_get_clients' });
    const clients = await b.waitFor('daemon_clients');
    expect(clients.data).toEqual([
      { path: a.path, pid: '777' },
      { path: b.path, pid: '0' },
    ]);
  });

  it('tracim - M13 get_clients from any path is answered in registration order, [] when empty', async () => {
    const r = await rig();
    const outsider = await peer(r, 'outsider', ['--no-register']);
    await outsider.send({ path: outsider.path, type: 'daemon_get_clients' });
    await expect(outsider.waitFor('daemon_clients')).resolves.toEqual({ path: r.master, type: 'daemon_clients', data: [] });
    const a = await peer(r, 'a', ['--pid', '1']);
    await a.waitFor('daemon_account_info');
    const b = await peer(r, 'b', ['--pid', '2']);
    await b.waitFor('daemon_account_info');
    await outsider.send({ path: outsider.path, type: 'daemon_get_clients' });
    const list = await outsider.waitFor('daemon_clients', 2);
    expect(list.data).toEqual([
      { path: a.path, pid: '1' },
      { path: b.path, pid: '2' },
    ]);
  });

  it('tracim - M14 M15 M16 account info, ping from any path, unknown types acked, daemon_ack not answered', async () => {
    const r = await rig({ userId: '7' });
    const c = await peer(r, 'c', ['--no-register']);
    await c.send({ path: c.path, type: 'daemon_get_account_info' });
    await expect(c.waitFor('daemon_account_info')).resolves.toEqual({ path: r.master, type: 'daemon_account_info', data: { user_id: '7' } });
    await c.send({ path: c.path, type: 'daemon_ping' });
    await expect(c.waitFor('daemon_pong')).resolves.toEqual({ path: r.master, type: 'daemon_pong' });
    await c.send({ path: c.path, type: 'daemon_ack' });
    await c.send({ path: c.path, type: 'whatever' });
    await c.send({ path: c.path, type: 'custom_message' });
    await expect(c.waitFor('daemon_ack', 2)).resolves.toEqual({ path: r.master, type: 'daemon_ack' });
    await c.send({ path: c.path, type: 'daemon_get_account_info' });
    await c.waitFor('daemon_account_info', 2);
    expect(c.received('daemon_ack')).toHaveLength(2);
  });

  it('tracim - M17 M18 unregistration: no more broadcasts, the others get client_deleted echoing data, no ack; a repeat is harmless', async () => {
    const r = await rig();
    const a = await peer(r, 'a');
    await a.waitFor('daemon_account_info');
    const b = await peer(r, 'b');
    await b.waitFor('daemon_client_added');
    await a.waitFor('daemon_client_added', 2);
    const data = { path: b.path, pid: '99', extra: 'kept' };
    await b.send({ path: b.path, type: 'daemon_client_delete', data });
    await expect(a.waitFor('daemon_client_deleted')).resolves.toEqual({ path: r.master, type: 'daemon_client_deleted', data });
    await b.send({ path: b.path, type: 'daemon_client_delete', data });
    await a.waitFor('daemon_client_deleted', 2);
    r.driver.emit('t', 1);
    await a.waitFor('daemon_tracim_event');
    await a.send({ path: a.path, type: 'daemon_get_clients' });
    expect((await a.waitFor('daemon_clients')).data).toEqual([{ path: a.path, pid: expect.any(String) }]);
    expect(b.received('daemon_tracim_event')).toEqual([]);
    expect(b.received('daemon_ack')).toEqual([]);
    expect(b.received('daemon_client_deleted')).toEqual([]);
  });

  it('tracim - M19 M20 pings about every period; pongs are acked and keep the client registered', async () => {
    const r = await rig({ pingInterval: 300 });
    const c = await peer(r, 'c');
    await c.waitFor('daemon_ping', 5, 10_000);
    const times = c.records.filter((x) => x.ev === 'recv' && x.msg?.type === 'daemon_ping').map((x) => x.at as number);
    const gaps = times.slice(1).map((t, i) => (t - (times[i] as number)) * 1000);
    const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
    expect(mean).toBeGreaterThan(150);
    expect(mean).toBeLessThan(900);
    await c.waitFor('daemon_ack', 4);
    expect(r.adapter().listClients().map((x) => x.path)).toEqual([c.path]);
  });

  it('tracim - M21 a client that never pongs is still listed after less than P and gone after at most 2P', async () => {
    // A period long enough that 1 s of scheduling slack on a loaded machine stays under P, so
    // removal after 3 P would still fail the bound.
    const P = 1500;
    const r = await rig({ pingInterval: P });
    const c = await peer(r, 'c', ['--no-pong']);
    await c.waitFor('daemon_account_info');
    const registeredAt = Date.now();
    expect(r.adapter().listClients().map((x) => x.path)).toEqual([c.path]);
    await r.logger.waitFor(/removed: no pong/, { timeoutMs: 5 * P });
    expect(Date.now() - registeredAt).toBeLessThan(2 * P + 1000);
    expect(r.adapter().listClients()).toEqual([]);
  });

  it('tracim - M22 a client whose socket file vanished is removed within 2P; the others keep receiving', async () => {
    const r = await rig({ pingInterval: 400 });
    const a = await peer(r, 'a');
    const b = await peer(r, 'b');
    await a.waitFor('daemon_client_added', 2);
    await b.cmd({ cmd: 'stop_listening' });
    for (let i = 0; i < 20; i++) r.driver.emit('n', i);
    await r.logger.waitFor(new RegExp(`${b.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} removed`), { timeoutMs: 5000 });
    for (let i = 20; i < 40; i++) r.driver.emit('n', i);
    await a.waitUntil(() => (a.received('daemon_tracim_event').length >= 40 ? true : undefined), '40 TLMs');
    expect(a.received('daemon_tracim_event').map((m) => JSON.parse(m.data as string).fields.value)).toEqual([...Array(40).keys()]);
    expect(r.adapter().listClients().map((x) => x.path)).toEqual([a.path]);
  });

  it('tracim - M23 each state change reaches every client as a TLM string with integer event_id, event_type, created and fields', async () => {
    const r = await rig();
    const a = await peer(r, 'a');
    const b = await peer(r, 'b');
    await a.waitFor('daemon_client_added', 2);
    r.driver.emit('temperature', 21.5);
    for (const p of [a, b]) {
      const msg = await p.waitFor('daemon_tracim_event');
      expect(typeof msg.data).toBe('string');
      const tlm = JSON.parse(msg.data as string);
      expect(Number.isInteger(tlm.event_id)).toBe(true);
      // The Go SDK decodes event_id into an int: 32 bits on 386 and armhf (Raspberry Pi OS).
      expect(tlm.event_id).toBeGreaterThan(0);
      expect(tlm.event_id).toBeLessThan(2 ** 31);
      expect(tlm.event_type).toBe('device.modified.state');
      expect(tlm.created).toMatch(TIME_RE);
      expect(tlm.fields).toEqual({ author: null, client_token: null, device: 'dev1', channel: 'temperature', value: 21.5, kind: 'json' });
      await p.waitRecord((x) => x.ev === 'handler' && x.key === 'device.modified.state', 'the TLM event_type handler');
    }
  });

  it('tracim - a registering client first gets the current state of every device', async () => {
    const r = await rig();
    r.driver.emit('temperature', 19);
    r.driver.emit('relay', true);
    const a = await peer(r, 'a');
    await a.waitFor('daemon_tracim_event', 2);
    const fields = a.received('daemon_tracim_event').map((m) => JSON.parse(m.data as string).fields);
    expect(fields).toEqual([
      { author: null, client_token: null, device: 'dev1', channel: 'temperature', value: 19, kind: 'json' },
      { author: null, client_token: null, device: 'dev1', channel: 'relay', value: true, kind: 'json' },
    ]);
  });

  it('tracim - patchbay_command is acked, then answered with patchbay_reply when the device has answered', async () => {
    const r = await rig();
    const a = await peer(r, 'a');
    await a.waitFor('daemon_account_info');
    await a.send({ path: a.path, type: 'patchbay_command', data: { id: 'c1', device: 'dev1', channel: 'relay', value: true } });
    await a.send({ path: a.path, type: 'patchbay_command', data: { id: 2, device: 'nope', channel: 'relay', value: true } });
    const first = await a.waitFor('patchbay_reply');
    expect(first.data).toEqual({ id: 'c1', ok: true, value: true });
    const second = await a.waitFor('patchbay_reply', 2);
    expect(second.data).toMatchObject({ id: 2, ok: false, error: expect.stringMatching(/unknown device/) });
    const types = a.received().map((m) => m.type).filter((t) => t === 'daemon_ack' || t === 'patchbay_reply');
    expect(types.indexOf('daemon_ack')).toBeLessThan(types.indexOf('patchbay_reply'));
    expect(r.driver.commands[0]).toMatchObject({ device: 'dev1', channel: 'relay', value: true, origin: 'tracim' });
  });

  it('tracim - TLM event_ids keep increasing across a restart of the master, from the counter kept beside the socket', async () => {
    const r = await rig();
    const a = await peer(r, 'a');
    await a.waitFor('daemon_account_info');
    for (let i = 0; i < 5; i++) r.driver.emit('n', i);
    await a.waitFor('daemon_tracim_event', 5);
    const before = a.received('daemon_tracim_event').map((m) => JSON.parse(m.data as string).event_id as number);
    await r.gateway.stop({ drainTimeoutMs: 100 });
    const again = await startMaster({ socketPath: r.master });
    cleanups.push(() => again.close());
    const b = await startPyPeer({ master: r.master, path: join(r.dir, 'b.sock') });
    cleanups.push(() => b.kill());
    await b.waitFor('daemon_account_info');
    again.driver.emit('n', 9);
    const id = JSON.parse((await b.waitFor('daemon_tracim_event')).data as string).event_id as number;
    expect(id).toBeGreaterThan(Math.max(...before));
    expect(id).toBeLessThan(2 ** 31);
  });

  it('tracim - (14.2) registered clients are what the host is connected to: /healthz shows connected and peers', async () => {
    const r = await rig();
    const host = () => r.gateway.health().hosts.find((h) => h.id === 'tracim');
    expect(host()).toMatchObject({ status: 'alive', connected: false, peers: 0 });
    const a = await peer(r, 'a');
    await a.waitFor('daemon_account_info');
    const b = await peer(r, 'b');
    await b.waitFor('daemon_account_info');
    expect(host()).toMatchObject({ connected: true, peers: 2, connection: expect.stringMatching(/2 registered Tracim clients/) });
    await a.send({ path: a.path, type: 'daemon_client_delete', data: { path: a.path, pid: '1' } });
    await b.waitFor('daemon_client_deleted');
    expect(host()).toMatchObject({ connected: true, peers: 1 });
    await b.send({ path: b.path, type: 'daemon_client_delete', data: { path: b.path, pid: '1' } });
    await r.logger.waitFor(/Tracim client unregistered: .*b\.sock; 0 registered/);
    expect(host()).toMatchObject({ connected: false, peers: 0 });
  });

  it('tracim - issue 20: a patchbay_reply (after its ack) goes ahead of the state waiting for a client that is behind', async () => {
    const r = await rig();
    const path = join(r.dir, 'late.sock');
    await sendOnce(r.master, Buffer.from(JSON.stringify({ path, type: 'daemon_client_add', data: { path, pid: '1' } })), 2000);
    await r.logger.waitFor(/late\.sock is unreachable/, { timeoutMs: 10_000 });
    // The reply is queued once the core has handed it to the adapter.
    const master = r.adapter();
    const deliver = master.deliver.bind(master);
    const replied = new Signal();
    let answered = false;
    master.deliver = (event) => {
      const result = deliver(event);
      if (event.kind === 'reply') {
        answered = true;
        replied.notify();
      }
      return result;
    };
    // Not listening yet: 30 channels' state waits in its queue, then its command comes.
    for (let i = 0; i < 30; i++) r.driver.emit(`c${i}`, i);
    await sendOnce(r.master, Buffer.from(JSON.stringify({ path, type: 'patchbay_command', data: { id: 'q', device: 'dev1', channel: 'relay', value: true } })), 2000);
    await replied.waitUntil(() => (answered ? true : undefined), { what: 'the reply queued', timeoutMs: 10_000 });
    const me = await rawListener(path);
    cleanups.push(() => me.close());
    const types = () => me.messages.map((b) => (JSON.parse(b.toString()) as { type: string }).type);
    await me.changed.waitUntil(() => (types().includes('patchbay_reply') ? true : undefined), { what: 'the reply', timeoutMs: 20_000 });
    const seen = types().filter((t) => t !== 'daemon_account_info' && t !== 'daemon_client_added');
    expect(seen.slice(0, 2)).toEqual(['daemon_ack', 'patchbay_reply']);
  }, 30_000);

  it('tracim - every failed patchbay_reply carries a code: unknown device, a channel the device refuses, a command without data', async () => {
    const r = await rig();
    r.driver.answer = (command) => (command.channel === 'relay' ? { ok: true, value: command.value ?? null } : { ok: false, error: `unknown channel "${command.channel}"` });
    const a = await peer(r, 'a');
    await a.waitFor('daemon_account_info');
    await a.send({ path: a.path, type: 'patchbay_command', data: { id: 1, device: 'nope', channel: 'relay', value: true } });
    await a.waitFor('patchbay_reply', 1);
    await a.send({ path: a.path, type: 'patchbay_command', data: { id: 2, device: 'dev1', channel: 'bogus', value: true } });
    await a.waitFor('patchbay_reply', 2);
    await a.send({ path: a.path, type: 'patchbay_command', data: 'nothing' });
    await a.waitFor('patchbay_reply', 3);
    const replies = a.received('patchbay_reply').map((m) => m.data);
    expect(replies).toEqual([
      { id: 1, ok: false, error: expect.stringMatching(/unknown device/), code: 'PB201_UNKNOWN_DEVICE' },
      { id: 2, ok: false, error: 'unknown channel "bogus"', code: 'PB207_COMMAND_FAILED' },
      { id: null, ok: false, error: expect.stringMatching(/needs data/), code: 'PB206_COMMAND_INVALID' },
    ]);
  });

  it('tracim - 13.5 a master socket a live process listens on stops the host with one clear reason: no restarts, and that master sees only well-formed messages', async () => {
    const dir = tempDir('pb-tracim-live-');
    cleanups.push(async () => dir.remove());
    const path = join(dir.path, 'master.sock');
    const live = await rawListener(path);
    cleanups.push(() => live.close());
    const logger = captureLogger({ levels: 'info' });
    const gateway = createGateway({ devices: [], hosts: [{ id: 'tracim', definition: tracimAdapter, options: { socketPath: path } }], logger, restart: { maxRestarts: 50, windowMs: 60_000, backoff: { delays: [10], jitter: 0 } } });
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 50 }));
    await gateway.start();
    await logger.waitFor(/is dead .*master socket .* is in use/, { level: 'error' });
    const host = gateway.health().hosts[0];
    expect(host).toMatchObject({ status: 'dead', restarts: 0, reason: expect.stringMatching(/is in use.*not restarted/) });
    // The probe was one daemon_ack, which every TracimDaemon ignores; never an empty connection.
    await live.changed.waitUntil(() => (live.messages.length >= 1 ? true : undefined), { what: 'the probe', timeoutMs: 5000 });
    expect(live.messages.map((b) => JSON.parse(b.toString()))).toEqual([{ path, type: 'daemon_ack' }]);
    expect(logger.find(/restarting in/)).toHaveLength(0);
    expect(existsSync(path)).toBe(true);
  });

  it('tracim - 13.4 a client that takes a message and never closes is shown stalled (once, counted) and recovers when it closes again', async () => {
    const r = await rig({ sendTimeoutMs: 300 });
    const path = join(r.dir, 'stuck.sock');
    let hold = true;
    const held: Socket[] = [];
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      socket.on('error', () => undefined);
      socket.on('data', () => undefined);
      socket.on('end', () => (hold ? held.push(socket) : socket.end()));
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    cleanups.push(async () => {
      for (const s of held) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    await sendOnce(r.master, Buffer.from(JSON.stringify({ path, type: 'daemon_client_add', data: { path, pid: '7' } })), 2000);
    await r.logger.waitFor(/Tracim client .*stuck\.sock is stalled/, { level: 'warn' });
    const master = r.adapter() as unknown as TracimMaster;
    expect(master.clientStatus()).toEqual([expect.objectContaining({ path, pid: '7', stalled: true })]);
    r.driver.emit('n', 1);
    r.driver.emit('n', 2);
    hold = false;
    for (const s of held.splice(0)) s.end();
    await r.logger.waitFor(/stuck\.sock closes its connections again/);
    expect(master.clientStatus()[0]?.stalled).toBe(false);
    expect(r.logger.find(/is stalled/)).toHaveLength(1);
  });

  it('tracim - a patchbay_command the gateway fails to take (submit rejects) is one ERROR line, not an unhandled rejection; the master keeps serving', async () => {
    const r = await rig({}, { context: { submit: () => Promise.reject(new Error('core broke')) } });
    const a = await peer(r, 'a');
    await a.waitFor('daemon_account_info');
    await a.send({ path: a.path, type: 'patchbay_command', data: { id: 'lost', device: 'dev1', channel: 'relay', value: true } });
    await r.logger.waitFor(/patchbay_command "lost" from .* was not taken by the gateway: core broke/, { level: 'error' });
    await a.waitFor('daemon_ack');
    await a.send({ path: a.path, type: 'daemon_ping' });
    await a.waitFor('daemon_pong');
    expect(r.logger.find(/./, 'error')).toHaveLength(1);
  });

  // Three Python processes and a dozen socket hand-offs, each waited for: room for a loaded machine.
  it('tracim - M25 (SDK-like peer) handlers run for custom_message, daemon_tracim_event and the TLM type; SIGINT unregisters twice and removes it', async () => {
    const r = await rig();
    const a = await peer(r, 'a');
    const b = await peer(r, 'b');
    await a.waitFor('daemon_client_added', 2);
    r.driver.emit('t', 1);
    for (const key of ['custom_message', 'daemon_tracim_event', 'device.modified.state']) await b.waitRecord((x) => x.ev === 'handler' && x.key === key, `handler ${key}`);
    await b.kill('SIGINT');
    await a.waitFor('daemon_client_deleted', 2);
    expect(r.adapter().listClients().map((x) => x.path)).toEqual([a.path]);
  }, 30_000);

  it('tracim - M27 the socket file is removed on clean shutdown', async () => {
    const r = await startMaster();
    expect(existsSync(r.master)).toBe(true);
    await r.gateway.stop({ drainTimeoutMs: 100 });
    expect(existsSync(r.master)).toBe(false);
  });
});
