import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { PhpCallback, sendRaw, type CallbackRecord } from './peer.js';
import { APIKEY, everything, startRig, type Rig } from './rig.js';

type Decoded = { devices?: Record<string, Record<string, unknown>>; replies?: Record<string, Record<string, unknown>>; status?: Record<string, string>; availability?: Record<string, unknown> };
const decoded = (r: CallbackRecord): Decoded => (r.decoded ?? {}) as Decoded;

function command(fields: Record<string, unknown>): string {
  return JSON.stringify({ action: 'command', device: 'dev1', channel: 'relay', ...fields, apikey: APIKEY });
}

describe('jeedom - upward channel (§4)', () => {
  let rig: Rig | undefined;
  let peer: PhpCallback | undefined;
  afterEach(async () => {
    await rig?.stop();
    await peer?.close();
    rig = undefined;
    peer = undefined;
  });

  it('jeedom - §10.12 exactly one GET <callback>?apikey=<key>, no body, before the port is bound', async () => {
    peer = await PhpCallback.start();
    peer.control({ delayMs: 1500 });
    let adapter: { port: number | undefined } | undefined;
    const starting = startRig({ callback: peer.url, cycle: 0 }, { onCreate: (a) => (adapter = a) });
    await peer.waitFor((rs) => rs.find((r) => r.method === 'GET'), 'the start-up GET');
    expect(adapter?.port).toBeUndefined();
    peer.control(undefined);
    rig = await starting;
    expect(rig.adapter().port).toBeGreaterThan(0);
    const gets = peer.records().filter((r) => r.method === 'GET');
    expect(gets).toHaveLength(1);
    expect(gets[0]?.uri).toBe(`/plugins/patchbay/core/php/jeePatchbay.php?apikey=${APIKEY}`);
    expect(gets[0]?.query).toEqual({ apikey: APIKEY });
    expect(gets[0]?.body).toBe('');
  });

  it('jeedom - §10.25 §10.27 POSTs: the key in the query, JSON content type, exact Content-Length, no chunking, no forwarding headers', async () => {
    peer = await PhpCallback.start();
    rig = await startRig({ callback: peer.url, cycle: 0 });
    // Past the start-up's status and availability: changes queued behind a POST share the next one.
    await peer.waitFor((rs) => rs.find((r) => r.method === 'POST' && decoded(r).availability?.dev1 !== undefined), 'the start-up POST');
    rig.driver.emit('temperature', 21.5);
    const post = await peer.waitFor((rs) => rs.find((r) => r.method === 'POST' && decoded(r).devices?.dev1?.temperature === 21.5), 'the state POST');
    expect(post.uri).toBe(`/plugins/patchbay/core/php/jeePatchbay.php?apikey=${APIKEY}`);
    expect(post.headers['Content-Type']).toBe('application/json');
    expect(Number(post.headers['Content-Length'])).toBe(Buffer.byteLength(post.body));
    expect(post.headers['Transfer-Encoding']).toBeUndefined();
    for (const name of ['X-Forwarded-For', 'X-Real-IP', 'CF-Connecting-IP', 'Client-IP']) {
      expect(Object.keys(post.headers).map((h) => h.toLowerCase())).not.toContain(name.toLowerCase());
    }
    for (const r of peer.records()) expect(typeof r.decoded === 'object' || r.method === 'GET').toBe(true);
    expect(post.body).toBe('{"devices": {"dev1": {"temperature": 21.5}}}');
  });

  it('jeedom - §10.26 POST bodies are byte-identical to Python json.dumps of the same data', async () => {
    peer = await PhpCallback.start();
    rig = await startRig({ callback: peer.url, cycle: 0 });
    await peer.waitFor((rs) => rs.find((r) => r.method === 'POST' && decoded(r).availability?.dev1 !== undefined), 'the start-up POST');
    // One at a time, each alone in its POST (changes queued behind a POST would share the next).
    rig.driver.emit('label', 'café / 😀 "q"');
    await peer.waitFor((rs) => rs.find((r) => decoded(r).devices?.dev1?.label !== undefined), 'the label POST');
    rig.driver.emit('tiny', 0.00001);
    await peer.waitFor((rs) => rs.find((r) => decoded(r).devices?.dev1?.tiny !== undefined), 'both POSTs');
    const bodies = peer.posts().map((r) => r.body);
    const python = spawnSync('/usr/bin/python3', ['-c', 'import json,sys\nfor l in sys.stdin: print(json.dumps(json.loads(l)))'], { input: bodies.join('\n') + '\n', encoding: 'utf8' });
    expect(python.stdout.split('\n').slice(0, bodies.length)).toEqual(bodies);
    expect(bodies).toContain('{"devices": {"dev1": {"label": "caf\\u00e9 / \\ud83d\\ude00 \\"q\\""}}}');
    expect(bodies).toContain('{"devices": {"dev1": {"tiny": 1e-05}}}');
  });

  it('jeedom - §10.28 an https callback with a self-signed certificate for another host name is accepted', async () => {
    const dir = tempDir('jeedom-tls-');
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir.path, 'k.pem'), '-out', join(dir.path, 'c.pem'), '-days', '1', '-subj', '/CN=jeedom.example.invalid'], { stdio: 'ignore' });
      const bodies: string[] = [];
      let onBody: () => void = () => undefined;
      const server = https.createServer({ key: readFileSync(join(dir.path, 'k.pem')), cert: readFileSync(join(dir.path, 'c.pem')) }, (req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          if (req.method === 'POST') bodies.push(body);
          res.end();
          onBody();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as { port: number }).port;
      const arrived = new Promise<void>((resolve) => (onBody = () => bodies.some((b) => b.includes('"tls": 1')) && resolve()));
      rig = await startRig({ callback: `https://127.0.0.1:${port}/plugins/patchbay/core/php/jeePatchbay.php`, cycle: 0 });
      rig.driver.emit('tls', 1);
      await arrived;
      await rig.stop();
      rig = undefined;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    } finally {
      dir.remove();
    }
  });

  it('jeedom - §10.29 a 200 ends the send after one attempt, even with the French refusal text', async () => {
    peer = await PhpCallback.start({ apikey: 'someOtherKeyThatIsLongEnough' });
    rig = await startRig({ callback: peer.url, cycle: 0 });
    rig.driver.emit('humidity', 40);
    await peer.waitFor((rs) => rs.find((r) => decoded(r).devices?.dev1?.humidity === 40), 'the POST');
    rig.driver.emit('humidity', 41);
    await peer.waitFor((rs) => rs.find((r) => decoded(r).devices?.dev1?.humidity === 41), 'the second POST');
    expect(peer.posts().filter((r) => decoded(r).devices?.dev1?.humidity === 40)).toHaveLength(1);
  });

  it('jeedom - §10.30 non-200 is attempted 3 times ≥ 0.5 s apart, then kept and retried; every change arrives once 200 again', async () => {
    peer = await PhpCallback.start();
    rig = await startRig({ callback: peer.url, cycle: 0.1 });
    await peer.waitFor((rs) => rs.find((r) => decoded(r).status?.dev1 === 'alive'), 'the device status');
    peer.control({ status: 500 });
    rig.driver.emit('temperature', 1);
    const failed = await peer.waitFor((rs) => {
      const attempts = rs.filter((r) => r.answered === 500);
      return attempts.length >= 3 ? attempts.slice(0, 3) : undefined;
    }, 'three failed attempts');
    expect((failed[1] as CallbackRecord).time - (failed[0] as CallbackRecord).time).toBeGreaterThanOrEqual(0.5);
    expect((failed[2] as CallbackRecord).time - (failed[1] as CallbackRecord).time).toBeGreaterThanOrEqual(0.5);
    await rig.logger.waitFor(/Error on send request to jeedom, return code 500/, { level: 'warn' });
    rig.driver.emit('temperature', 2);
    rig.driver.emit('humidity', 50);
    await rig.logger.waitFor(/unreachable/, { level: 'warn' });
    peer.control(undefined);
    await peer.waitFor((rs) => rs.find((r) => r.answered === 200 && decoded(r).devices?.dev1?.humidity === 50), 'the retried changes');
    await peer.waitFor(() => (peer?.latest('dev1', 'temperature') === 2 ? true : undefined), 'the latest temperature');
  });

  it('jeedom - §10.31 a callback that answers after 2 s gets a single successful attempt (0.5 s is only the connect timeout)', async () => {
    peer = await PhpCallback.start();
    rig = await startRig({ callback: peer.url, cycle: 0 });
    await peer.waitFor((rs) => rs.find((r) => decoded(r).status?.dev1 === 'alive'), 'the device status');
    peer.control({ delayMs: 2000 });
    rig.driver.emit('slow', 1);
    await rig.other.waitFor((e) => e.kind === 'state' && e.channel === 'slow');
    await rig.gateway.stop({ drainTimeoutMs: 5000 });
    expect(peer.posts().filter((r) => decoded(r).devices?.dev1?.slow === 1)).toHaveLength(1);
    expect(rig.logger.find(/send request/, 'error')).toEqual([]);
  });

  it('jeedom - §10.32 §10.33 changes from one device tick go up in one POST, nested per device', async () => {
    peer = await PhpCallback.start();
    rig = await startRig({ callback: peer.url, cycle: 0.3 });
    await peer.waitFor((rs) => rs.find((r) => decoded(r).status?.dev1 === 'alive'), 'the device status');
    const before = peer.posts().length;
    rig.driver.emit('temperature', 21.5);
    rig.driver.emit('humidity', 40);
    rig.driver.emit('relay', true);
    const post = await peer.waitFor((rs) => rs.filter((r) => r.method === 'POST').slice(before).find((r) => decoded(r).devices?.dev1), 'the cycle POST');
    expect(post.body).toBe('{"devices": {"dev1": {"temperature": 21.5, "humidity": 40, "relay": true}}}');
  });

  it('jeedom - §10.38 a 302 answer to a POST is not a success: ERROR logged, the change is retried', async () => {
    peer = await PhpCallback.start();
    rig = await startRig({ callback: peer.url, cycle: 0 });
    await peer.waitFor((rs) => rs.find((r) => decoded(r).status?.dev1 === 'alive'), 'the device status');
    peer.control({ status: 302, location: 'https://127.0.0.1/plugins/patchbay/core/php/jeePatchbay.php' });
    rig.driver.emit('moved', 1);
    await rig.logger.waitFor(/redirected the POST \(302/, { level: 'error' });
    peer.control(undefined);
    await peer.waitFor((rs) => rs.find((r) => r.answered === 200 && decoded(r).devices?.dev1?.moved === 1), 'the change after the redirect stops');
  });

  it('jeedom - §8.4 neither the key nor the callback password reaches a log line or /healthz when a redirect fails the POSTs', async () => {
    peer = await PhpCallback.start();
    const password = 'pa55-w0rd';
    rig = await startRig({ callback: peer.url.replace('//', `//jeedom:${password}@`), callbackTest: false, cycle: 0, http: { retryDelayMs: 0 } });
    peer.control({ status: 302, location: `https://127.0.0.1/plugins/patchbay/core/php/jeePatchbay.php?apikey=${APIKEY}` });
    rig.driver.emit('moved', 1);
    await rig.logger.waitFor(/host jeedom is unreachable/, { level: 'warn' });
    const health = rig.gateway.health().hosts.find((h) => h.id === 'jeedom');
    expect(health?.reason).toContain(`callback ${peer.url} failed 3 attempts`);
    for (const text of [everything(rig.logger.lines), everything(health)]) {
      expect(text).not.toContain(APIKEY);
      expect(text).not.toContain(password);
    }
  });

  it('jeedom - replies go up keyed by the Jeedom id (or the command id), failures with their error; status changes too', async () => {
    peer = await PhpCallback.start();
    rig = await startRig({ callback: peer.url, cycle: 0.05 }, { answer: (c) => (c.channel === 'bad' ? { ok: false, error: 'no such channel' } : { ok: true, value: c.value ?? null }) });
    await peer.waitFor((rs) => rs.find((r) => decoded(r).status?.dev1 === 'alive'), 'the device status');
    await sendRaw(rig.port(), command({ value: true, id: 17 }));
    await sendRaw(rig.port(), command({ channel: 'bad', value: 1, id: 'b1' }));
    await sendRaw(rig.port(), command({ value: false }));
    const commands = await rig.waitCommands(3);
    const anonymous = commands.find((c) => c.ref === undefined);
    const replies = await peer.waitFor((rs) => {
      const all: Record<string, Record<string, unknown>> = {};
      for (const r of rs) Object.assign(all, decoded(r).replies ?? {});
      return Object.keys(all).length >= 3 ? all : undefined;
    }, 'three replies');
    expect(replies['17']).toEqual({ ok: true, value: true });
    expect(replies.b1).toEqual({ ok: false, error: 'no such channel' });
    expect(replies[anonymous?.id ?? '?']).toEqual({ ok: true, value: false });
  });

  it('jeedom - {"action":"refresh"} re-sends the full current state', async () => {
    peer = await PhpCallback.start();
    rig = await startRig({ callback: peer.url, cycle: 0.05 });
    rig.driver.emit('temperature', 19);
    rig.driver.emit('relay', false);
    await peer.waitFor((rs) => rs.find((r) => decoded(r).devices?.dev1?.relay === false), 'the live state');
    const before = peer.posts().length;
    await sendRaw(rig.port(), JSON.stringify({ action: 'refresh', apikey: APIKEY }));
    const post = await peer.waitFor((rs) => rs.filter((r) => r.method === 'POST').slice(before).find((r) => decoded(r).devices?.dev1), 'the refresh POST');
    expect(decoded(post).devices?.dev1).toEqual({ temperature: 19, relay: false });
  });

  it('jeedom - without a callback the command socket serves and nothing goes up (one info line)', async () => {
    rig = await startRig({});
    expect(rig.logger.find(/no callback configured/, 'info')).toHaveLength(1);
    rig.driver.emit('temperature', 5);
    await sendRaw(rig.port(), command({ value: true, id: 'x' }));
    await rig.waitCommands(1);
    // The reply is routed when the driver answers; let the outbox's microtask drain run.
    await new Promise((resolve) => setImmediate(resolve));
    const health = rig.gateway.health().hosts.find((h) => h.id === 'jeedom');
    expect(health?.queued).toBe(0);
    expect(health?.delivered).toBeGreaterThanOrEqual(2);
  });

  it('jeedom - a callback down at start does not stop the gateway; queued changes arrive when it comes up', async () => {
    peer = await PhpCallback.start();
    await peer.stop();
    rig = await startRig({ callback: peer.url, cycle: 0 });
    await rig.logger.waitFor(/Callback result as a unknown error/, { level: 'error' });
    await sendRaw(rig.port(), command({ value: true, id: 'while-down' }));
    await rig.waitCommands(1);
    rig.driver.emit('temperature', 33);
    expect(rig.gateway.health().hosts.find((h) => h.id === 'jeedom')?.status).toBe('unknown');
    await peer.restart();
    await peer.waitFor(() => (peer?.latest('dev1', 'temperature') === 33 ? true : undefined), 'the queued state');
    await peer.waitFor((rs) => rs.find((r) => decoded(r).replies?.['while-down']), 'the queued reply');
  });

  it('jeedom - a start-up GET that hangs does not hold up the gateway: commands are served, changes wait for the answer', async () => {
    peer = await PhpCallback.start();
    peer.control({ delayMs: 4000 });
    rig = await startRig({ callback: peer.url, cycle: 0 });
    // Started and serving while the GET is still unanswered.
    expect(peer.records().filter((r) => r.method === 'GET')).toHaveLength(1);
    await sendRaw(rig.port(), command({ value: true, id: 'early' }));
    await rig.waitCommands(1);
    rig.driver.emit('temperature', 12);
    peer.control(undefined);
    await peer.waitFor(() => (peer?.latest('dev1', 'temperature') === 12 ? true : undefined), 'the state after the slow GET');
    await peer.waitFor((rs) => rs.find((r) => decoded(r).replies?.early), 'the reply');
    expect(peer.records().filter((r) => r.method === 'GET')).toHaveLength(1);
  });
});
