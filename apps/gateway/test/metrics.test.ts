import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import type { EndpointHealth, Gateway, GatewayHealth } from '@patchbay/core';
import { captureLogger, Signal, spawnEmbeddedDefault, type PatchbayProcess } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Metrics } from '../src/http/metrics.js';
import { GatewayHttp } from '../src/http/server.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** Debian's `prometheus` package. */
const PROMTOOL = '/usr/bin/promtool';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a text exposition (our label values hold no escaped quotes or commas). */
function parse(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1] as string, type[2] as string);
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[pair[1] as string] = pair[2] as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return { samples, types };
}

/** A ws client that keeps every message, to wait on. */
function recorder(socket: WebSocket): (predicate: (m: Record<string, unknown>) => boolean, what: string) => Promise<Record<string, unknown>> {
  const messages: Record<string, unknown>[] = [];
  const changed = new Signal();
  socket.on('message', (data) => {
    messages.push(JSON.parse(String(data)) as Record<string, unknown>);
    changed.notify();
  });
  return (predicate, what) => changed.waitUntil(() => messages.find(predicate), { timeoutMs: 20_000, what });
}

describe('metrics', () => {
  it('metrics - (14.1) a gateway running every built-in adapter exposes /metrics that promtool check metrics accepts, with counters at zero, histograms, gauges and one label scheme', async () => {
    // The embedded default: the simulated devices bridged into every built-in adapter.
    const proc: PatchbayProcess = await spawnEmbeddedDefault(['--serial-sim']);
    cleanups.push(() => proc.stop());
    await proc.waitStarted();
    const socket = new WebSocket(`${(proc.url as string).replace('http', 'ws')}/ws`);
    cleanups.push(() => socket.close());
    const nextMessage = recorder(socket);
    await nextMessage((m) => m.type === 'snapshot', 'the snapshot');
    await nextMessage((m) => m.type === 'state' && m.device === 'thermo1', 'a state from thermo1');
    // One command that reaches the device, one the core refuses (a read-only channel).
    socket.send(JSON.stringify({ type: 'command', id: 1, device: 'thermo1', channel: 'relay', value: true }));
    await expect(nextMessage((m) => m.type === 'reply' && m.id === 1, 'the relay reply')).resolves.toMatchObject({ ok: true });
    socket.send(JSON.stringify({ type: 'command', id: 2, device: 'thermo1', channel: 'temperature', value: 5 }));
    await expect(nextMessage((m) => m.type === 'reply' && m.id === 2, 'the refusal')).resolves.toMatchObject({ ok: false, code: 'PB211_READ_ONLY' });

    const response = await fetch(`${proc.url}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect({ status: check.status, out: `${check.stdout}${check.stderr}`.trim() }).toEqual({ status: 0, out: '' });

    const { samples, types } = parse(text);
    const find = (name: string, labels: Record<string, string> = {}) => samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    const one = (name: string, labels: Record<string, string> = {}) => {
      const found = find(name, labels);
      expect(found, `${name} ${JSON.stringify(labels)}`).toHaveLength(1);
      return (found[0] as Sample).value;
    };
    // No doubled prefix: process figures under their standard names.
    expect(text).not.toMatch(/patchbay_process_/);
    expect(types.get('process_cpu_user_seconds_total')).toBe('counter');
    // One label scheme: host/adapter, device/driver, reason; no family keeps `endpoint`.
    for (const s of samples) expect(Object.keys(s.labels).filter((k) => !['host', 'adapter', 'device', 'driver', 'reason', 'le'].includes(k) && !/^(nodejs|process)_/.test(s.name)), s.name).toEqual([]);
    for (const [name, type] of types) if (type === 'counter') expect(name, `counter ${name}`).toMatch(/_total$/);

    const hosts = [...new Set(find('patchbay_host_up').map((s) => s.labels.host))].sort();
    expect(hosts).toEqual(['comodojo', 'domogik', 'jeedom', 'mqtt', 'tracim', 'ws']);
    for (const host of hosts) {
      const labels = { host: host as string, adapter: host as string };
      expect(one('patchbay_host_up', labels)).toBe(1);
      expect(one('patchbay_host_queued_events', labels)).toBeGreaterThanOrEqual(0);
      expect(one('patchbay_host_oldest_queued_age_seconds', labels)).toBeGreaterThanOrEqual(0);
      expect(one('patchbay_host_delivered_events_total', labels)).toBeGreaterThan(0);
      expect(one('patchbay_host_failed_events_total', labels)).toBeGreaterThanOrEqual(0);
      expect(one('patchbay_host_stalls_total', labels)).toBe(0);
      // Histograms per host: delivery latency has observations, the round trip at least its buckets.
      expect(one('patchbay_host_delivery_seconds_count', labels)).toBeGreaterThan(0);
      expect(one('patchbay_host_delivery_seconds_bucket', { ...labels, le: '+Inf' })).toBe(one('patchbay_host_delivery_seconds_count', labels));
      expect(find('patchbay_command_duration_seconds_bucket', labels).length).toBeGreaterThan(10);
      // Refusals by reason, at zero for every reason before the first.
      expect(one('patchbay_commands_refused_total', { ...labels, reason: 'PB201_UNKNOWN_DEVICE' })).toBe(0);
    }
    expect(one('patchbay_command_duration_seconds_count', { host: 'ws' })).toBe(2);
    expect(one('patchbay_commands_refused_total', { host: 'ws', reason: 'PB211_READ_ONLY' })).toBe(1);
    // Adapter counters exist, at zero, before their first use.
    for (const [name, host] of [
      ['patchbay_ws_bad_messages_total', 'ws'],
      ['patchbay_ws_stalled_clients_dropped_total', 'ws'],
      ['patchbay_jeedom_rejected_messages_total', 'jeedom'],
      ['patchbay_comodojo_bad_requests_total', 'comodojo'],
      ['patchbay_domogik_bad_messages_total', 'domogik'],
      ['patchbay_tracim_bad_messages_total', 'tracim'],
      ['patchbay_mqtt_bad_commands_total', 'mqtt'],
    ] as const) {
      expect(one(name, { host, adapter: host })).toBe(0);
    }
    // What each host is connected to (14.2): the ws test client is one peer.
    expect(one('patchbay_host_connected', { host: 'ws' })).toBe(1);
    expect(one('patchbay_host_peers', { host: 'ws' })).toBe(1);
    expect(one('patchbay_host_peers', { host: 'tracim' })).toBe(0);
    // Devices: up, the age of their last report, their events.
    for (const [device, driver] of [
      ['thermo1', 'sim'],
      ['thermo-serial', 'serial'],
    ] as const) {
      expect(one('patchbay_device_up', { device, driver })).toBe(1);
      expect(one('patchbay_device_last_report_age_seconds', { device, driver })).toBeLessThan(60);
      expect(one('patchbay_device_events_total', { device, driver })).toBeGreaterThan(0);
      expect(one('patchbay_device_values_refused_total', { device, driver })).toBe(0);
    }
    // The journal.
    expect(one('patchbay_journal_bytes')).toBeGreaterThan(0);
    expect(one('patchbay_journal_segments')).toBeGreaterThanOrEqual(1);
    expect(one('patchbay_journal_write_errors_total')).toBe(0);
    expect(one('patchbay_journal_degraded')).toBe(0);
    expect(one('patchbay_events_routed_total')).toBeGreaterThan(0);
    expect(await proc.stop()).toBe(0);
  }, 90_000);
});

/**
 * A gateway of `n` devices as /metrics reads it: its health, every odd one with a value refused,
 * and a counter of each device's own made through the sink, as a driver's `ctx.counter` makes it.
 */
function wideGateway(n: number, id = (i: number) => `dev-${i}`): { metrics: Metrics; devices: EndpointHealth[] } {
  const metrics = new Metrics();
  const devices: EndpointHealth[] = [];
  for (let i = 0; i < n; i++) {
    const device: EndpointHealth = { id: id(i), kind: 'device', type: 'sim', status: 'alive', reason: undefined, lastSeen: Date.now() - 1500, queued: 0, delivered: i, failed: 0, retries: 0, restarts: i % 3, availability: 'online' };
    // As the core reports them: only once there are any.
    if (i % 2 === 1) device.valuesRefused = 1;
    devices.push(device);
    metrics.counter('patchbay_sim_frames_total', 'Frames the device sent', { device: id(i), driver: 'sim' }).inc(i % 3);
  }
  const health: GatewayHealth = { status: 'ok', name: 'wide', uptimeMs: 1, devices, hosts: [], input: { bufferedBytes: 0, peakBytes: 0, limitBytes: 1, refused: 0 } };
  // A new report per read, as the gateway's: one kept too long shows old values.
  metrics.watch({ health: () => ({ ...health, devices: devices.map((d) => ({ ...d })) }), routed: 0 } as unknown as Gateway);
  return { metrics, devices };
}

describe('metrics - many devices (20)', () => {
  it('metrics - (20) a scrape of 5,000 devices writes every device\'s series, and the event loop turns while it is made', async () => {
    const { metrics } = wideGateway(5000);
    // Immediates queued meanwhile: a scrape made in one synchronous pass lets none of them run.
    let turns = 0;
    let scraping = true;
    const tick = () => {
      turns++;
      if (scraping) setImmediate(tick);
    };
    setImmediate(tick);
    const text = await metrics.text();
    scraping = false;
    expect(turns).toBeGreaterThanOrEqual(5);

    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    const { samples, types } = parse(text);
    const of = (name: string) => samples.filter((s) => s.name === name);
    for (const name of ['patchbay_device_up', 'patchbay_device_online', 'patchbay_device_last_report_age_seconds', 'patchbay_device_events_total', 'patchbay_device_commands_failed_total', 'patchbay_device_restarts_total', 'patchbay_device_values_refused_total', 'patchbay_device_descriptions_refused_total']) {
      expect(of(name), name).toHaveLength(5000);
    }
    expect(types.get('patchbay_device_events_total')).toBe('counter');
    expect(types.get('patchbay_device_up')).toBe('gauge');
    expect(of('patchbay_device_events_total')[4321]).toEqual({ name: 'patchbay_device_events_total', labels: { device: 'dev-4321', driver: 'sim' }, value: 4321 });
    expect(of('patchbay_device_values_refused_total').reduce((sum, s) => sum + s.value, 0)).toBe(2500);
    expect(of('patchbay_device_descriptions_refused_total').every((s) => s.value === 0)).toBe(true);
    // A driver's own counter per device, written a slice of series at a time like the figures.
    expect(of('patchbay_sim_frames_total')).toHaveLength(5000);
    expect(of('patchbay_sim_frames_total').reduce((sum, s) => sum + s.value, 0)).toBe(4999);
    const age = of('patchbay_device_last_report_age_seconds')[0] as Sample;
    expect(age.value).toBeGreaterThanOrEqual(1.5);
    expect(age.value).toBeLessThan(60);
  });

  it('metrics - (20) device names with quotes, backslashes and newlines are escaped as the text format says; promtool reads them back', async () => {
    const names = ['plain', 'say "hi"', 'back\\slash', 'two\nlines'];
    const { metrics } = wideGateway(names.length, (i) => names[i] as string);
    const text = await metrics.text();
    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(text).toContain('patchbay_device_up{device="say \\"hi\\"",driver="sim"} 1\n');
    expect(text).toContain('patchbay_device_up{device="back\\\\slash",driver="sim"} 1\n');
    expect(text).toContain('patchbay_device_up{device="two\\nlines",driver="sim"} 1\n');
    expect(text).toContain('patchbay_device_values_refused_total{device="say \\"hi\\"",driver="sim"} 1\n');
    expect(text).toContain('patchbay_sim_frames_total{device="two\\nlines",driver="sim"} 0\n');
    expect(text).toContain('patchbay_sim_frames_total{device="back\\\\slash",driver="sim"} 2\n');
  });

  it('metrics - a counter name already taken (by prom-client or a device figure) is refused, as prom-client refuses a second registration', () => {
    const metrics = new Metrics();
    expect(() => metrics.counter('patchbay_device_events_total', 'again', { device: 'd', driver: 'sim' })).toThrow(/already been registered/);
    expect(() => metrics.counter('patchbay_host_delivered_events', 'again', { host: 'h', adapter: 'x' })).toThrow(/already been registered/);
    // Names Prometheus would refuse the whole scrape for, and a counter going down, as prom-client refused them.
    expect(() => metrics.counter('patchbay_bad-name', 'bad', { host: 'h' })).toThrow(/Invalid metric name/);
    expect(() => metrics.counter('patchbay_bad_label', 'bad', { 'device-id': 'd' })).toThrow(/Invalid label name/);
    expect(() => metrics.counter('patchbay_reserved_label', 'bad', { __name: 'd' })).toThrow(/Invalid label name/);
    expect(() => metrics.counter('patchbay_down', 'down', { host: 'h' }).inc(-1)).toThrow(/not possible to decrease/);
    const a = metrics.counter('patchbay_example_total', 'ours', { host: 'h', adapter: 'x' });
    const b = metrics.counter('patchbay_example_total', 'ours', { host: 'h', adapter: 'x' });
    a.inc();
    b.inc(2);
    return expect(metrics.text()).resolves.toContain('patchbay_example_total{host="h",adapter="x"} 3\n');
  });

  it('metrics - (20) GET /metrics of 5,000 devices over HTTP is the same exposition, written as it is made', async () => {
    const { metrics } = wideGateway(5000);
    const http = new GatewayHttp(metrics, captureLogger().logger);
    const { port } = await http.listen('127.0.0.1', 0);
    cleanups.push(() => http.close());
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(parse(text).samples.filter((s) => s.name === 'patchbay_device_restarts_total')).toHaveLength(5000);
  });

  it('metrics - (20) a scraper that goes away part way stops the scrape; the next one reads the health of its own moment', async () => {
    const { metrics, devices } = wideGateway(5000);
    const http = new GatewayHttp(metrics, captureLogger().logger);
    const { port } = await http.listen('127.0.0.1', 0);
    cleanups.push(() => http.close());
    // Reads the head of the response, then resets: the rest of the exposition is still to be made.
    await new Promise<void>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'));
      socket.once('data', () => {
        socket.resetAndDestroy();
        resolve();
      });
      socket.once('error', reject);
    });
    (devices[7] as EndpointHealth).delivered = 777_777;
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toContain('patchbay_device_events_total{device="dev-7",driver="sim"} 777777\n');
  });
});
