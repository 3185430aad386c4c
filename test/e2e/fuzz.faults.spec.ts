/**
 * The fuzz pass (issue 9): malformed frames generated with fast-check from seeds of valid
 * frames. Bulk (100,000 per decoder) through the adapters' exported decode functions, where
 * they have one; then a smaller pass through the real sockets of one running gateway (every
 * adapter, Jeedom and Domogik included), after which the gateway must still be up, still
 * answer every host, and its RSS must stay bounded.
 */
import { connect } from 'node:net';
import { decodeRequest, decodeCall, unserialize } from '@patchbay/adapter-comodojo/internal';
import { decodeEnvelope } from '@patchbay/adapter-tracim/internal';
import { ClientCommandSchema } from '@patchbay/adapter-ws';
import { createCodec, createFramer } from '@patchbay/driver-serial';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Scenario, until } from './scenario.js';

const bulkRuns = Number(process.env.FUZZ_RUNS ?? 100_000);
const socketRuns = Number(process.env.FUZZ_SOCKET_RUNS ?? 2_000);

/** Malformed variants of the seeds: truncated, bytes flipped, junk spliced in, or unrelated JSON/bytes. */
function malformed(seeds: string[]): fc.Arbitrary<Buffer> {
  const seed = fc.constantFrom(...seeds.map((s) => Buffer.from(s, 'utf8')));
  return fc.oneof(
    fc.tuple(seed, fc.nat()).map(([b, n]) => b.subarray(0, n % (b.length + 1))),
    fc.tuple(seed, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 })).map(([b, flips]) => {
      const copy = Buffer.from(b);
      for (const [at, byte] of flips) if (copy.length > 0) copy[at % copy.length] = byte;
      return copy;
    }),
    fc.tuple(seed, fc.nat(), fc.string({ maxLength: 40 })).map(([b, at, junk]) => {
      const i = at % (b.length + 1);
      return Buffer.concat([b.subarray(0, i), Buffer.from(junk), b.subarray(i)]);
    }),
    fc.json({ maxDepth: 4 }).map((j) => Buffer.from(j)),
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  );
}

/** Runs `decode` on every sample; a deliberate rejection (an Error) is fine, a bug-shaped one is not. */
function fuzz(seeds: string[], runs: number, decode: (frame: Buffer) => unknown): { rejected: number; bugs: string[] } {
  let rejected = 0;
  const bugs: string[] = [];
  for (const frame of fc.sample(malformed(seeds), { numRuns: runs, seed: 42 })) {
    try {
      decode(frame);
    } catch (error) {
      rejected++;
      if (!(error instanceof Error) || error instanceof TypeError || error instanceof RangeError) {
        if (bugs.length < 5) bugs.push(`${String(error)} on ${JSON.stringify(frame.toString('latin1').slice(0, 120))}`);
      }
    }
  }
  return { rejected, bugs };
}

const tracimSeeds = [
  JSON.stringify({ path: '/tmp/c.sock', type: 'daemon_client_add', data: { path: '/tmp/c.sock', pid: '1' } }),
  JSON.stringify({ path: '/tmp/c.sock', type: 'patchbay_command', data: { id: 'x', device: 'dev', channel: 'relay', value: true } }),
  JSON.stringify({ path: '/tmp/c.sock', type: 'daemon_pong', data: null }),
];
const comodojoJson = JSON.stringify({ jsonrpc: '2.0', method: 'device.command', params: { device: 'dev', channel: 'relay', value: true }, id: 1 });
const phpFrame = (message: string) => `a:2:{s:12:"content_type";s:16:"application/json";s:7:"message";s:${Buffer.byteLength(message)}:"${message}";}`;
const comodojoSeeds = [Buffer.from(phpFrame(comodojoJson)).toString('base64'), Buffer.from(phpFrame('[]')).toString('base64')];
const xmlSeed = '<?xml version="1.0"?><methodCall><methodName>device.state</methodName><params><param><value><struct><member><name>device</name><value><string>dev</string></value></member></struct></value></param></params></methodCall>';
const wsSeeds = [JSON.stringify({ type: 'command', id: 1, device: 'dev', channel: 'relay', value: true }), JSON.stringify({ type: 'command', id: 'r', device: 'dev', action: 'refresh' })];
const serialSeeds = ['{"channel":"temperature","value":21.5}', '{"id":"c1","ok":true,"value":1}', '{"id":"c2","ok":false,"error":"no"}', 'temperature=21.5', 'ok=1', 'error=bad'];

describe('fuzz', () => {
  it(`fuzz - ${bulkRuns} malformed frames per decoder (tracim, comodojo frame/php/xml, ws, serial jsonl/kv + framer): rejected cleanly, no crash`, () => {
    const before = process.memoryUsage().rss;
    const results: Record<string, { rejected: number; bugs: string[] }> = {
      tracim: fuzz(tracimSeeds, bulkRuns, (b) => decodeEnvelope(b)),
      comodojoFrame: fuzz(comodojoSeeds, bulkRuns, (b) => decodeRequest(b.toString('utf8'))),
      comodojoPhp: fuzz(comodojoSeeds.map((s) => Buffer.from(s, 'base64').toString('utf8')), bulkRuns, (b) => unserialize(b)),
      comodojoXml: fuzz([xmlSeed], bulkRuns / 10, (b) => decodeCall(b.toString('utf8'))),
      ws: fuzz(wsSeeds, bulkRuns, (b) => ClientCommandSchema.safeParse(JSON.parse(b.toString('utf8')))),
      serialJsonl: fuzz(serialSeeds, bulkRuns, (b) => createCodec('jsonl').decode(b)),
      serialKv: fuzz(serialSeeds, bulkRuns, (b) => createCodec('kv').decode(b)),
    };
    // The serial framer takes the whole byte stream: frames glued with newlines, split anywhere.
    let frames = 0;
    let bad = 0;
    const framer = createFramer({ type: 'delimiter', delimiter: '\n' }, { maxFrameBytes: 4096, sink: { frame: () => void frames++, bad: () => void bad++ } });
    for (const b of fc.sample(malformed(serialSeeds), { numRuns: bulkRuns, seed: 7 })) framer.push(Buffer.concat([b, Buffer.from('\n')]));
    const growthMb = (process.memoryUsage().rss - before) / 2 ** 20;
    console.log('fuzz decoders', Object.fromEntries(Object.entries(results).map(([k, v]) => [k, v.rejected])), { framerFrames: frames, framerBad: bad, rssGrowthMb: growthMb.toFixed(1) });
    for (const [name, r] of Object.entries(results)) expect({ name, bugs: r.bugs }).toEqual({ name, bugs: [] });
    expect(frames + bad).toBeGreaterThan(0);
    expect(growthMb).toBeLessThan(300);
  });

  describe('through the real sockets of one gateway', () => {
    const scenario = new Scenario({ deviceIntervalMs: 100 });
    afterAll(() => scenario.stop());

    it(`fuzz - ${socketRuns} malformed frames into every adapter's socket: gateway up, every host still answered, RSS bounded`, async () => {
      await scenario.start();
      scenario.sampleUsage();
      const rssBefore = scenario.usage.at(-1)?.[1] ?? 0;
      const ports = (scenario as unknown as { ports: Record<string, number> }).ports;
      const send = (port: number, payload: Buffer | string) =>
        new Promise<void>((resolve) => {
          const socket = connect(port, '127.0.0.1', () => socket.end(payload));
          socket.on('error', () => resolve());
          socket.on('close', () => resolve());
          socket.resume();
        });
      const jeedomSeeds = [JSON.stringify({ apikey: 'e2e-apikey-0123456789', action: 'command', device: 'dev', channel: 'relay', value: true, id: 'f' }), JSON.stringify({ apikey: 'e2e-apikey-0123456789', action: 'refresh' })];
      const samples = (seeds: string[], seed: number) => fc.sample(malformed(seeds), { numRuns: socketRuns, seed });
      // Jeedom: one JSON per connection, as Jeedom's PHP writes it; ten at a time.
      const jeedom = samples(jeedomSeeds, 1);
      for (let i = 0; i < jeedom.length; i += 10) await Promise.all(jeedom.slice(i, i + 10).map((b) => send(ports.jeedomSocket as number, b)));
      // Comodojo: frames on one connection per 50, LF-terminated.
      const comodojo = samples(comodojoSeeds, 2);
      for (let i = 0; i < comodojo.length; i += 50) await send(ports.comodojo as number, Buffer.concat(comodojo.slice(i, i + 50).flatMap((b) => [b, Buffer.from('\n')])));
      // ws: one client, every message malformed.
      const ws = new WebSocket(`ws://127.0.0.1:${ports.http}/ws`);
      await new Promise((r) => ws.once('open', r));
      for (const b of samples(wsSeeds, 3)) ws.send(b.toString('utf8'));
      ws.close();
      // Tracim: one envelope per connection to the master socket.
      const master = `${scenario.dir.path}/master.sock`;
      for (const b of samples(tracimSeeds, 4)) {
        await new Promise<void>((resolve) => {
          const socket = connect(master, () => socket.end(b));
          socket.on('error', () => resolve());
          socket.on('close', () => resolve());
        });
      }
      // Domogik: raw MDP client frames on the embedded broker, through a DEALER.
      const zmq = await import('zeromq');
      const dealer = new zmq.Dealer({ linger: 0, sendTimeout: 1000 });
      dealer.connect(`tcp://127.0.0.1:${ports.reqRep}`);
      const mdpSeed = JSON.stringify({ command_id: 10, device_id: 7, value: '1' });
      for (const b of samples([mdpSeed], 5)) await dealer.send(['', 'MDPC01', 'plugin-patchbay.e2e', '10', 'client.cmd', b]).catch(() => undefined);
      dealer.close();

      // Everyone is still served: one valid command per host is answered.
      scenario.startCommands();
      await until(() => scenario.hosts.every((h) => [...h.stats.commands.values()].some((r) => r.replies > 0 && r.ok === true)), 'a good reply on every host after the fuzz', 30_000);
      scenario.stopCommands();
      expect(scenario.gateway?.child.exitCode).toBeNull();
      scenario.sampleUsage();
      const rssAfter = scenario.usage.at(-1)?.[1] ?? 0;
      console.log(`fuzz sockets: RSS ${(rssBefore / 2 ** 20).toFixed(0)} -> ${(rssAfter / 2 ** 20).toFixed(0)} MB`);
      expect(rssAfter).toBeLessThan(rssBefore * 1.5 + 50 * 2 ** 20);
      const fatal = scenario.gateway?.lines.filter((l) => Number(l.level) >= 60 || /unhandled/i.test(String(l.msg))) ?? [];
      expect(fatal).toEqual([]);
    });
  });
});
