import { createGateway, type Gateway } from '@patchbay/core';
import { FakeHost, PtyPair } from '@patchbay/testing';
import { SerialPort } from 'serialport';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import serialDriver from '../src/index.js';
import { captureLogger, MemoryMetrics, seeded } from './helpers.js';

const MAX = 64;
const metric = (name: string) => `patchbay_serial_${name}_total`;

describe('serial - bad input from the line', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  beforeEach(() => {
    process.on('unhandledRejection', onRejection);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    process.off('unhandledRejection', onRejection);
    rejections.length = 0;
  });

  /** The driver on one end of a pty pair, a raw port on the other end playing a misbehaving device. */
  async function setup() {
    const pair = await PtyPair.open();
    cleanups.push(() => pair.close());
    const host = new FakeHost();
    const metrics = new MemoryMetrics();
    const logger = captureLogger();
    const gateway: Gateway = createGateway({
      devices: [{ id: 'thermo', definition: serialDriver, options: { path: pair.a, maxFrameBytes: MAX, commandTimeoutMs: 3000 } }],
      hosts: [{ id: 'h1', definition: host.definition }],
      metrics,
      logger,
    });
    await gateway.start();
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 500 }));
    const far = new SerialPort({ path: pair.b, baudRate: 115200, autoOpen: false });
    far.on('error', () => undefined); // the far end vanishes with socat in one test
    await new Promise<void>((resolve, reject) => far.open((e) => (e ? reject(e) : resolve())));
    cleanups.push(() => new Promise<void>((resolve) => (far.isOpen ? far.close(() => resolve()) : resolve())));
    const count = (name: string) => metrics.get(metric(name), 'thermo');
    return { pair, host, gateway, far, logger, count };
  }

  it('serial - acceptance 3: 10,000 random byte blocks and malformed lines: no crash, every bad frame accounted for', async () => {
    const { host, gateway, far, logger, count } = await setup();
    const random = seeded(0x5e71a1);
    const crafted: { line: string; kind: 'invalid' | 'garbage' | 'unmatched' | 'oversize' }[] = [
      { line: '{"channel":', kind: 'invalid' },
      { line: '[1,2,3]', kind: 'invalid' },
      { line: '{"channel":"t"}', kind: 'invalid' },
      { line: '{"id":"ghost","ok":true,"value":1}', kind: 'unmatched' },
      { line: 'not json at all', kind: 'invalid' },
      { line: 'abc\u0007def', kind: 'garbage' },
      { line: `{"channel":"long","value":"${'x'.repeat(MAX)}"}`, kind: 'oversize' },
    ];
    const valid: string[] = [];
    const blocks: Buffer[] = [];
    for (let i = 0; i < 10_000; i++) {
      if (i % 1000 === 999) {
        // A good line now and then: the driver must still be reading. The leading newline ends any random tail.
        const line = JSON.stringify({ channel: 'probe', value: i });
        valid.push(line);
        blocks.push(Buffer.from(`\n${line}\n`));
      } else if (i % 10 === 0) {
        blocks.push(Buffer.from(`\n${(crafted[(i / 10) % crafted.length] as (typeof crafted)[number]).line}\n`));
      } else {
        const block = Buffer.alloc(1 + Math.floor(random() * 96));
        for (let j = 0; j < block.length; j++) block[j] = Math.floor(random() * 256);
        blocks.push(block);
      }
    }
    blocks.push(Buffer.from('\n{"channel":"done","value":true}\n'));
    const stream = Buffer.concat(blocks);

    // What the driver must see: the stream cut at each newline, empty pieces skipped.
    const expected = { frames: 0, oversize: 0, unmatched: 0, rest: 0 };
    const known = new Map(crafted.map((c) => [c.line, c.kind]));
    for (const piece of stream.toString('latin1').split('\n')) {
      if (piece.length === 0) continue;
      if (piece.length > MAX) expected.oversize++;
      else if (valid.includes(piece) || piece === '{"channel":"done","value":true}') expected.frames++;
      else if (known.get(piece) === 'unmatched') expected.unmatched++;
      else expected.rest++;
    }

    for (const block of blocks) far.write(block);
    await host.waitFor((e) => e.kind === 'state' && e.channel === 'done', { timeoutMs: 15_000, what: 'the line after the storm' });

    expect(count('frames')).toBe(expected.frames);
    expect(host.delivered.filter((e) => e.kind === 'state' && e.channel === 'probe').map((e) => (e.kind === 'state' ? e.value : null))).toEqual(
      valid.map((line) => (JSON.parse(line) as { value: number }).value),
    );
    expect(count('oversize_frames')).toBe(expected.oversize);
    expect(count('unmatched_replies')).toBe(expected.unmatched);
    expect(count('invalid_frames') + count('garbage_frames')).toBe(expected.rest);
    expect(count('garbage_frames')).toBeGreaterThan(0);
    expect(count('bad_frames')).toBe(expected.oversize + expected.unmatched + expected.rest);
    expect(count('partial_frames')).toBe(0);

    // Logged with what was wrong, but not once per frame.
    const complaints = logger.lines.filter((l) => l.level === 'warn' && l.message.includes(' frame: '));
    expect(new Set(complaints.map((l) => l.fields.kind))).toEqual(new Set(['garbage', 'invalid', 'oversize', 'unmatched']));
    expect(complaints.length).toBeLessThan(20);
    expect(complaints.find((l) => l.fields.kind === 'unmatched')?.message).toContain('"ghost"');

    // Still serving: alive, never restarted, and a command round-trips with the far end answering.
    expect(gateway.health().devices[0]).toMatchObject({ status: 'alive', restarts: 0 });
    far.removeAllListeners('data');
    far.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        const command = JSON.parse(line) as { id: string; value: unknown };
        far.write(`${JSON.stringify({ id: command.id, ok: true, value: command.value })}\n`);
      }
    });
    expect(await host.submit({ device: 'thermo', channel: 'relay', value: 1 })).toMatchObject({ ok: true, value: 1 });
    expect(rejections).toEqual([]);
  });

  it('serial - a partial frame at disconnect is counted and logged, and the line comes back clean', async () => {
    const { pair, host, far, logger, count } = await setup();
    const partial = '{"channel":"tempera';
    // One write: the complete line and the cut one arrive together, before the cable is pulled.
    far.write(`{"channel":"temperature","value":20}\n${partial}`);
    await host.waitFor((e) => e.kind === 'state' && e.channel === 'temperature');
    await pair.kill();
    await host.waitFor((e) => e.kind === 'status' && e.endpoint === 'thermo' && e.status === 'unknown', { what: 'the outage' });
    expect(count('partial_frames')).toBe(1);
    expect(count('bad_frames')).toBe(1);
    const line = logger.lines.find((l) => l.fields.kind === 'partial');
    expect(line?.message).toContain(`${partial.length} bytes`);
    expect(rejections).toEqual([]);
  });
});
