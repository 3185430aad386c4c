import { once } from 'node:events';
import { createGateway, ErrorCodes, type Gateway, type OutboundEvent } from '@patchbay/core';
import { FakeHost, PtyPair } from '@patchbay/testing';
import { SerialPort } from 'serialport';
import { afterEach, describe, expect, it } from 'vitest';
import serialDriver, { serveSimulatedDevice, type SimulatedSerialDevice } from '../src/index.js';
import { MemoryMetrics } from './helpers.js';

const isState = (device: string, channel: string, value?: unknown) => (e: OutboundEvent) =>
  e.kind === 'state' && e.device === device && e.channel === channel && (value === undefined || e.value === value);

describe('serial over a socat pty pair', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function setup(options: { codec?: 'jsonl' | 'kv'; framing?: Record<string, unknown>; sim?: boolean; driver?: Record<string, unknown> } = {}) {
    const pair = await PtyPair.open();
    cleanups.push(() => pair.close());
    const h1 = new FakeHost();
    const h2 = new FakeHost();
    const metrics = new MemoryMetrics();
    const gateway: Gateway = createGateway({
      devices: [{ id: 'thermo', definition: serialDriver, options: { path: pair.a, codec: options.codec, framing: options.framing, ...options.driver } }],
      hosts: [
        { id: 'h1', definition: h1.definition },
        { id: 'h2', definition: h2.definition },
      ],
      metrics,
    });
    // The driver's end first: what a device says before its listener opens the line is lost.
    await gateway.start();
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 500 }));
    let sim: SimulatedSerialDevice | undefined;
    if (options.sim !== false) {
      sim = await serveSimulatedDevice({ path: pair.b, codec: options.codec, framing: options.framing as never, interval: 60_000 });
      cleanups.push(() => sim?.stop());
    }
    return { pair, sim, h1, h2, gateway, metrics };
  }

  it('serial - acceptance 1: state from the simulated device reaches hosts; a reply returns to the asking host only (jsonl)', async () => {
    const { sim, h1, h2, gateway } = await setup();
    // The device says everything when the line opens.
    await h1.waitFor(isState('thermo', 'temperature'), { what: 'temperature from the serial device' });
    await h2.waitFor(isState('thermo', 'humidity'), { what: 'humidity at the second host' });
    expect(h1.latest('thermo', 'temperature')).toBe(21);

    const reply = await h1.submit({ device: 'thermo', channel: 'relay', value: true, ref: 'r-1' }, { deliverReply: true });
    expect(reply).toMatchObject({ ok: true, value: true, to: 'h1', ref: 'r-1' });
    expect(sim?.device.values().relay).toBe(true);
    await h1.waitFor((e) => e.kind === 'reply' && e.commandId === reply.commandId, { what: 'the reply in h1 outbox' });
    // The device reported the change before answering: once h2 has it, any reply would have been routed too.
    await h2.waitFor(isState('thermo', 'relay', true), { what: 'relay=true at h2' });
    expect(h2.delivered.filter((e) => e.kind === 'reply')).toEqual([]);
    expect(gateway.health().devices[0]).toMatchObject({ id: 'thermo', status: 'alive', restarts: 0 });
  });

  it('serial - device refusals and actions come back as replies naming the command', async () => {
    const { h1 } = await setup();
    await h1.waitFor(isState('thermo', 'temperature'));
    // A channel the description does not name passes the core, and the device refuses it.
    const refused = await h1.submit({ device: 'thermo', channel: 'fan', value: 5 });
    expect(refused).toMatchObject({ ok: false, code: ErrorCodes.COMMAND_FAILED });
    expect(refused.error).toContain('unknown channel "fan"');
    expect(refused.error).toContain('fan=5');
    const before = h1.delivered.length;
    const refresh = await h1.submit({ device: 'thermo', action: 'refresh' });
    expect(refresh.ok).toBe(true);
    // refresh makes the device report every channel again
    await h1.waitFor((e) => h1.delivered.indexOf(e) >= before && isState('thermo', 'humidity')(e), { what: 'a fresh humidity report' });
  });

  it('serial - a jsonl device describes itself over the line; the core then refuses a read-only write before the line', async () => {
    const { sim, h1 } = await setup();
    const described = await h1.waitFor((e) => e.kind === 'description', { what: 'the description the device sent' });
    expect(described).toMatchObject({ device: 'thermo', description: { name: 'Simulated thermostat (serial)', channels: { temperature: { kind: 'number', unit: '°C' } } } });
    const answeredBefore = sim?.answered ?? 0;
    const refused = await h1.submit({ device: 'thermo', channel: 'temperature', value: 5 });
    expect(refused).toMatchObject({ ok: false, code: ErrorCodes.READ_ONLY });
    expect(sim?.answered).toBe(answeredBefore);
    // A string "on" for the relay reaches the line as the boolean the description asks for.
    expect(await h1.submit({ device: 'thermo', channel: 'relay', value: 'on' })).toMatchObject({ ok: true, value: true });
  });

  it('serial - the config describes a device that cannot (kv), and its settings override what a device says', async () => {
    const { h1 } = await setup({
      codec: 'kv',
      driver: { device: { name: 'Boiler', manufacturer: 'ACME' }, channels: { temperature: { kind: 'number', unit: '°F' }, relay: { kind: 'boolean', writable: true } } },
    });
    const described = await h1.waitFor((e) => e.kind === 'description', { what: 'the description from the config' });
    expect(described).toMatchObject({ description: { name: 'Boiler', manufacturer: 'ACME', channels: { temperature: { kind: 'number', unit: '°F', writable: false }, relay: { writable: true } } } });
    expect(await h1.submit({ device: 'thermo', channel: 'temperature', value: 1 })).toMatchObject({ ok: false, code: ErrorCodes.READ_ONLY });
  });

  it('serial - a "describe" that is not an object is counted as invalid input and changes nothing', async () => {
    const { pair, h1, metrics } = await setup({ sim: false });
    const far = new SerialPort({ path: pair.b, baudRate: 115_200 });
    cleanups.push(() => new Promise<void>((resolve) => far.close(() => resolve())));
    await once(far, 'open');
    far.write('{"describe":[1,2]}\n{"channel":"t","value":1}\n');
    await h1.waitFor(isState('thermo', 't', 1));
    expect(h1.delivered.some((e) => e.kind === 'description')).toBe(false);
    expect(metrics.get('patchbay_serial_invalid_frames_total', 'thermo')).toBe(1);
  });

  it('serial - acceptance 1 with the kv codec: replies matched first-in first-out', async () => {
    const { sim, h1, h2 } = await setup({ codec: 'kv' });
    await h1.waitFor(isState('thermo', 'relay', false), { what: 'relay=false over kv' });
    const [on, bad, off] = await Promise.all([
      h1.submit({ device: 'thermo', channel: 'relay', value: true }),
      h2.submit({ device: 'thermo', channel: 'humidity', value: 1 }),
      h1.submit({ device: 'thermo', channel: 'relay', value: false }),
    ]);
    expect(on).toMatchObject({ ok: true, value: true, to: 'h1' });
    expect(bad).toMatchObject({ ok: false, to: 'h2', code: ErrorCodes.COMMAND_FAILED });
    expect(bad.error).toContain('read-only');
    expect(off).toMatchObject({ ok: true, value: false, to: 'h1' });
    expect(sim?.answered).toBe(3);
    await h2.waitFor(isState('thermo', 'relay', true), { what: 'the relay change reported over kv' });
  });

  it('serial - length-prefixed framing end to end', async () => {
    const framing = { type: 'length', lengthBytes: 2 };
    const { h1 } = await setup({ framing });
    await h1.waitFor(isState('thermo', 'temperature'));
    expect(await h1.submit({ device: 'thermo', channel: 'relay', value: 'on' })).toMatchObject({ ok: true, value: true });
  });

  for (const codec of ['jsonl', 'kv'] as const) {
    it(`serial - ${codec}: a command the device never answers fails after commandTimeoutMs, naming the command`, async () => {
      const { pair, h1 } = await setup({ sim: false, codec, driver: { commandTimeoutMs: 150 } });
      // A silent device: open the far end so the line is up, never answer.
      const far = new SerialPort({ path: pair.b, baudRate: 115200, autoOpen: false });
      await new Promise<void>((resolve, reject) => far.open((e) => (e ? reject(e) : resolve())));
      cleanups.push(() => new Promise<void>((resolve) => far.close(() => resolve())));
      const seen = once(far, 'data');
      const reply = await h1.submit({ device: 'thermo', channel: 'relay', value: true });
      expect(reply).toMatchObject({ ok: false, code: ErrorCodes.COMMAND_TIMEOUT });
      expect(reply.error).toContain(reply.commandId);
      expect(reply.error).toContain('relay=true');
      expect(reply.error).toContain('150 ms');
      const [line] = (await seen) as [Buffer];
      if (codec === 'jsonl') expect(JSON.parse(line.toString())).toMatchObject({ channel: 'relay', value: true, id: expect.stringMatching(/^c/) });
      else expect(line.toString()).toBe('relay=1\n');
    });
  }

  it('serial - kv: answers are matched first-in first-out, so a later command gets its own answer after a timeout', async () => {
    const { pair, h1, metrics } = await setup({ sim: false, codec: 'kv', driver: { commandTimeoutMs: 300 } });
    const far = new SerialPort({ path: pair.b, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => far.open((e) => (e ? reject(e) : resolve())));
    cleanups.push(() => new Promise<void>((resolve) => far.close(() => resolve())));
    // The device ignores "relay=0" and answers everything else with its value.
    far.on('data', (chunk: Buffer) => {
      for (const command of chunk.toString().split('\n').filter(Boolean)) if (command !== 'relay=0') far.write(`ok=${command.split('=')[1]}\n`);
    });
    const ignored = await h1.submit({ device: 'thermo', channel: 'relay', value: false });
    expect(ignored).toMatchObject({ ok: false, code: ErrorCodes.COMMAND_TIMEOUT });
    expect(await h1.submit({ device: 'thermo', channel: 'setpoint', value: 19.5 })).toMatchObject({ ok: true, value: 19.5 });
    // An answer while nothing waits is counted, not handed to whoever asks next.
    far.write('ok=stray\nmode=eco\n');
    await h1.waitFor((e) => e.kind === 'state' && e.channel === 'mode', { what: 'the line after the stray answer' });
    expect(metrics.get('patchbay_serial_unmatched_replies_total', 'thermo')).toBe(1);
    expect(await h1.submit({ device: 'thermo', channel: 'setpoint', value: 20 })).toMatchObject({ ok: true, value: 20 });
  });

  it('serial - a reply with an unknown id is counted and logged, and reading goes on', async () => {
    const { pair, h1, metrics } = await setup({ sim: false });
    const far = new SerialPort({ path: pair.b, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => far.open((e) => (e ? reject(e) : resolve())));
    cleanups.push(() => new Promise<void>((resolve) => far.close(() => resolve())));
    far.write('{"id":"nobody","ok":true,"value":1}\n{"channel":"temperature","value":30}\n');
    await h1.waitFor(isState('thermo', 'temperature', 30));
    expect(metrics.get('patchbay_serial_unmatched_replies_total', 'thermo')).toBe(1);
    expect(metrics.get('patchbay_serial_bad_frames_total', 'thermo')).toBe(1);
    expect(metrics.get('patchbay_serial_frames_total', 'thermo')).toBe(1);
  });

  it('serial - start and stop twice', async () => {
    const { h1, gateway } = await setup();
    await h1.waitFor(isState('thermo', 'temperature'));
    await gateway.stop({ drainTimeoutMs: 500 });
    const count = h1.delivered.length;
    await gateway.start();
    // The device stayed up and does not know the driver went away: ask it for news.
    expect(await h1.submit({ device: 'thermo', channel: 'relay', value: true })).toMatchObject({ ok: true, value: true });
    await h1.waitFor((e) => h1.delivered.indexOf(e) >= count && isState('thermo', 'relay', true)(e), { what: 'state after the second start' });
  });
});
