import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@patchbay/testing';
import { createGateway } from '@patchbay/core';
import { FakeDriver, captureLogger } from '@patchbay/testing';
import mqttAdapter from '../src/index.js';
import { Mosquitto } from '@patchbay/testing';
import { Peer } from './peer.js';
import { startRig, type Rig } from './rig.js';

let broker: Mosquitto;
beforeAll(async () => {
  broker = await Mosquitto.start();
});
afterAll(async () => {
  await broker?.close();
});

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function rig(options: Record<string, unknown> = {}): Promise<Rig> {
  const r = await startRig({ url: broker.url, discovery: { enabled: false }, ...options });
  cleanups.push(r.stop);
  return r;
}

async function peer(filters: string[], options: Record<string, unknown> = {}): Promise<Peer> {
  const p = await Peer.open(broker.url, filters, options);
  cleanups.push(() => p.close());
  return p;
}

describe('mqtt adapter against mosquitto', () => {
  it('mqtt - retained state, availability and bridge state; a late subscriber gets them', async () => {
    const r = await rig();
    r.driver.emit('temperature', 21.5);
    r.driver.emit('relay', true);
    r.driver.emit('mode', 'eco');
    r.driver.emit('blob', { a: [1, 2] });
    const p = await peer([`${r.base}/#`]);
    await p.waitLatest(`${r.base}/dev1/temperature`, (t) => t === '21.5');
    await p.waitLatest(`${r.base}/dev1/relay`, (t) => t === 'ON');
    await p.waitLatest(`${r.base}/dev1/mode`, (t) => t === 'eco');
    await p.waitLatest(`${r.base}/dev1/blob`, (t) => t === '{"a":[1,2]}');
    await p.waitLatest(`${r.base}/dev1/availability`, (t) => t === 'online');
    await p.waitLatest(`${r.base}/bridge/state`, (t) => t === 'online');
    const late = await peer([`${r.base}/dev1/temperature`]);
    expect((await late.waitFor((m) => m.topic === `${r.base}/dev1/temperature`, { what: 'the retained state' })).retain).toBe(true);
  });

  it('mqtt - booleans as true/false when configured', async () => {
    const r = await rig({ booleanPayloads: 'true/false' });
    r.driver.emit('relay', false);
    const p = await peer([`${r.base}/#`]);
    await p.waitLatest(`${r.base}/dev1/relay`, (t) => t === 'false');
    const reply = await p.request(`${r.base}/dev1/relay/set`, 'true');
    expect(reply).toEqual({ ok: true, value: true });
    expect(r.driver.commands.at(-1)).toMatchObject({ channel: 'relay', value: true });
  });

  it('mqtt - an MQTT 5 command gets its reply on its response topic with its correlation data', async () => {
    const r = await rig();
    const p = await peer([`${r.base}/#`]);
    const on = await p.request(`${r.base}/dev1/relay/set`, 'ON');
    expect(on).toEqual({ ok: true, value: true });
    r.driver.answer = () => ({ ok: false, error: 'relay stuck', code: 'PB207_COMMAND_FAILED' });
    const off = await p.request(`${r.base}/dev1/relay/set`, 'OFF');
    expect(off).toEqual({ ok: false, error: 'relay stuck', code: 'PB207_COMMAND_FAILED' });
    const unknown = await p.request(`${r.base}/nodev/relay/set`, 'ON');
    expect(unknown).toMatchObject({ ok: false, code: 'PB201_UNKNOWN_DEVICE' });
  });

  it('mqtt - bad payloads (huge, invalid UTF-8) each get a coded error and one log line; the gateway keeps serving', async () => {
    const r = await rig({ maxCommandBytes: 1024 });
    const p = await peer([`${r.base}/#`]);
    const huge = await p.request(`${r.base}/dev1/relay/set`, 'x'.repeat(5000));
    expect(huge).toMatchObject({ ok: false, code: 'PB206_COMMAND_INVALID', error: expect.stringMatching(/5000 bytes/) });
    const binary = await p.request(`${r.base}/dev1/relay/set`, Buffer.from([0xc3, 0x28, 0xff]));
    expect(binary).toMatchObject({ ok: false, code: 'PB206_COMMAND_INVALID', error: expect.stringMatching(/UTF-8/) });
    expect(r.log.find(/refused \(PB206_COMMAND_INVALID\)/, 'warn')).toHaveLength(2);
    expect(r.driver.commands).toHaveLength(0);
    expect(await p.request(`${r.base}/dev1/relay/set`, 'ON')).toEqual({ ok: true, value: true });
  });

  it('mqtt - never takes its own publications for commands: a response topic under the base is refused, with no loop', async () => {
    const r = await rig();
    const p = await peer([`${r.base}/#`]);
    const from = p.messages.length;
    await p.client.publishAsync(`${r.base}/dev1/relay/set`, 'ON', { qos: 1, properties: { responseTopic: `${r.base}/dev1/relay/set`, correlationData: Buffer.from('x') } });
    await r.log.waitFor(/response topic .* lies under/, { level: 'warn' });
    // A command after it is served, and nothing was published on the /set topic by the gateway.
    expect(await p.request(`${r.base}/dev1/relay/set`, 'OFF')).toEqual({ ok: true, value: false });
    expect(r.driver.commands.map((c) => c.value)).toEqual([false]);
    expect(p.messages.slice(from).filter((m) => m.topic.endsWith('/set'))).toHaveLength(2);
  });

  it('mqtt - MQTT 3.1.1: replies on /set/result when configured; its own publications are never commands', async () => {
    const r = await rig({ protocolVersion: 4, resultTopic: true });
    const p = await peer([`${r.base}/#`], { protocolVersion: 4 });
    await p.client.publishAsync(`${r.base}/dev1/relay/set`, 'ON', { qos: 1 });
    const result = await p.waitFor((m) => m.topic === `${r.base}/dev1/relay/set/result`, { what: 'the result' });
    expect(JSON.parse(result.text)).toEqual({ ok: true, value: true });
    r.driver.emit('relay', true);
    await p.waitLatest(`${r.base}/dev1/relay`, (t) => t === 'ON');
    expect(r.driver.commands).toHaveLength(1);
  });

  it('mqtt - Home Assistant online on homeassistant/status republishes availability and state within 1 s', async () => {
    const prefix = `ha${process.pid}`;
    const r = await rig({ discovery: { enabled: true, prefix } });
    r.driver.emit('temperature', 19);
    const p = await peer([`${r.base}/#`]);
    await p.waitLatest(`${r.base}/dev1/temperature`, (t) => t === '19');
    const from = p.messages.length;
    const sent = Date.now();
    await p.client.publishAsync(`${prefix}/status`, 'online', { qos: 1 });
    const again = await p.waitFor((m) => m.topic === `${r.base}/dev1/temperature` && !m.retain, { what: 'the state again', timeoutMs: 5000, from });
    await p.waitFor((m) => m.topic === `${r.base}/dev1/availability`, { what: 'the availability again', timeoutMs: 5000, from });
    expect(again.text).toBe('19');
    expect(Date.now() - sent).toBeLessThan(1000);
  });

  it('mqtt - a clean stop publishes offline on the bridge state itself (no will is sent then)', async () => {
    const r = await rig();
    const p = await peer([`${r.base}/bridge/state`]);
    await p.waitLatest(`${r.base}/bridge/state`, (t) => t === 'online');
    await r.stop();
    await p.waitLatest(`${r.base}/bridge/state`, (t) => t === 'offline');
  });

  it('mqtt - while the broker is down deliveries fail (the outbox keeps state, coalesced), and everything is republished when it is back; /healthz says whether the broker is connected (14.2)', async () => {
    const r = await rig();
    const p = await peer([`${r.base}/#`]);
    r.driver.emit('temperature', 1);
    await p.waitLatest(`${r.base}/dev1/temperature`, (t) => t === '1');
    expect(r.gateway.health().hosts[0]).toMatchObject({ connected: true, connection: `broker ${broker.url}` });
    await broker.down();
    await r.log.waitFor(/is unknown \(broker .* unreachable/, { level: 'warn' });
    expect(r.gateway.health().hosts[0]).toMatchObject({ connected: false, connection: `broker ${broker.url} unreachable` });
    for (let i = 2; i <= 200; i++) r.driver.emit('temperature', i);
    r.driver.emit('humidity', 55);
    await broker.up();
    await p.waitLatest(`${r.base}/dev1/temperature`, (t) => t === '200', 30_000);
    await p.waitLatest(`${r.base}/dev1/humidity`, (t) => t === '55', 30_000);
    const health = r.gateway.health().hosts[0];
    expect(health?.retries).toBeGreaterThan(0);
    expect(health?.connected).toBe(true);
  });

  it('mqtt - credentials are never logged, even when the broker refuses them', async () => {
    const r = await rig({ username: 'patchbay-user', password: 'sekret-Pa55word', url: broker.url.replace('mqtt://', 'mqtt://u:inline-S3cret@') });
    const p = await peer([`${r.base}/#`]);
    r.driver.emit('t', 1);
    await p.waitLatest(`${r.base}/dev1/t`, (t) => t === '1');
    const text = JSON.stringify(r.log.lines);
    expect(text).not.toContain('sekret-Pa55word');
    expect(text).not.toContain('inline-S3cret');
    expect(text).toContain('connected to mqtt://127.0.0.1');
  });

  it('mqtt - a device id that is not a valid topic level stops the start with a coded error naming it', async () => {
    const driver = new FakeDriver();
    const log = captureLogger();
    const gateway = createGateway({
      devices: [{ id: 'bad+id', definition: driver.definition }],
      hosts: [{ id: 'mqtt', definition: mqttAdapter, options: { url: broker.url, discovery: { enabled: false } } }],
      logger: log.logger,
      restart: { maxRestarts: 0 },
    });
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 100 }));
    await gateway.start();
    const line = await log.waitFor(/device id "bad\+id" cannot be a topic level: it contains an MQTT wildcard/);
    expect(JSON.stringify(line)).toContain('PB101_CONFIG_INVALID');
  });

  it('mqtt - the embedded broker (no url) speaks 3.1.1 on 127.0.0.1; MQTT 5 there is refused when the config is checked', async () => {
    expect(mqttAdapter.config.safeParse({ protocolVersion: 5 }).error?.issues[0]).toMatchObject({ path: ['protocolVersion'], message: expect.stringMatching(/3\.1\.1 only/) });
    const port = await freePort();
    const r = await startRig({ embedded: { port }, resultTopic: true, discovery: { enabled: false } });
    cleanups.push(r.stop);
    r.driver.emit('temperature', 22);
    const p = await Peer.open(`mqtt://127.0.0.1:${port}`, [`${r.base}/#`], { protocolVersion: 4 });
    cleanups.push(() => p.close());
    await p.waitLatest(`${r.base}/dev1/temperature`, (t) => t === '22');
    await p.client.publishAsync(`${r.base}/dev1/relay/set`, 'ON', { qos: 1 });
    const result = await p.waitFor((m) => m.topic === `${r.base}/dev1/relay/set/result`, { what: 'the result' });
    expect(JSON.parse(result.text)).toEqual({ ok: true, value: true });
  });
});
