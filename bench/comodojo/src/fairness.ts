/**
 * Issue 13.8: one large request must not stall everyone. While a Comodojo client sends large
 * requests back to back (a 12.7 MB XML-RPC document, a 20 MB JSON-RPC string parameter, a
 * 50,000-call batch), another host's ingest-to-delivery latency is measured, and its p99 is
 * compared with the same host's p99 in the same run with no large request in flight.
 * Target: within 2 times the baseline (ratio, baseline / value, >= 0.5).
 */
import { createComodojoDefinition, type ComodojoAdapter } from '@patchbay/adapter-comodojo';
import { encodeFrame } from '@patchbay/adapter-comodojo/internal';
import { percentile, report, type Figure } from '@patchbay/bench-kit';
import { createGateway, defineAdapter, defineDriver } from '@patchbay/core';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';

const PHASE_MS = 3000;
const REPORT_EVERY_MS = 2;

// A device that reports the high-resolution time itself, and a host that takes the difference
// on delivery: one clock, no millisecond rounding.
const ticker = defineDriver({
  type: 'bench-ticker',
  config: z.object({}),
  create: (_config, ctx) => {
    let timer: NodeJS.Timeout | undefined;
    return {
      start: () => {
        timer = setInterval(() => ctx.emit('t', performance.now()), REPORT_EVERY_MS);
      },
      stop: () => clearInterval(timer),
      send: () => ({ ok: true }),
    };
  },
});

let latencies: number[] = [];
const watcher = defineAdapter({
  type: 'bench-watcher',
  config: z.object({}),
  create: () => ({
    start: () => undefined,
    stop: () => undefined,
    deliver: (event) => {
      if (event.kind === 'state' && typeof event.value === 'number') latencies.push(performance.now() - event.value);
    },
  }),
});

const big = (bytes: number) => 'x'.repeat(bytes);
const requests = {
  'a 12.7 MB XML-RPC document': encodeFrame({
    content_type: 'text/xml',
    message: `<?xml version="1.0"?><methodCall><methodName>device.state</methodName><params><param><value><array><data>${Array.from({ length: 1270 }, () => `<value><string>${big(10_000)}</string></value>`).join('')}</data></array></value></param></params></methodCall>`,
  }),
  'a 20 MB JSON-RPC string parameter': encodeFrame({ content_type: 'application/json', message: JSON.stringify({ jsonrpc: '2.0', method: 'device.state', params: [big(20 * 1024 * 1024)], id: 1 }) }),
  'a 50,000-call JSON-RPC batch': encodeFrame({ content_type: 'application/json', message: JSON.stringify(Array.from({ length: 50_000 }, (_, id) => ({ jsonrpc: '2.0', method: 'device.list', id }))) }),
};

/** Sends `frame` again and again on one connection until the deadline; returns how many were answered. */
function flood(port: number, frame: string, deadline: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('latin1');
    let greeted = false;
    let answered = 0;
    let buffer = '';
    socket.on('data', (data: string) => {
      buffer += data;
      for (let lf = buffer.indexOf('\n'); lf >= 0; lf = buffer.indexOf('\n')) {
        buffer = buffer.slice(lf + 1);
        if (greeted) answered++;
        greeted = true;
        if (performance.now() >= deadline) {
          socket.destroy();
          resolve(answered);
          return;
        }
        socket.write(frame);
      }
    });
    socket.on('error', reject);
  });
}

async function phase(run: () => Promise<unknown>): Promise<number[]> {
  latencies = [];
  await run();
  return latencies.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  const base = createComodojoDefinition();
  let adapter: ComodojoAdapter | undefined;
  const definition = { ...base, create: ((config, ctx) => (adapter = base.create(config, ctx) as ComodojoAdapter)) as typeof base.create };
  const gateway = createGateway({
    devices: [{ id: 'ticker', definition: ticker }],
    // Limits raised so that every large request is parsed, not refused: the worst case for the others.
    hosts: [
      { id: 'rpc', definition, options: { socket: 'tcp://127.0.0.1:0', maxFrameBytes: 48 * 1024 * 1024, maxBufferedBytes: 256 * 1024 * 1024 } },
      { id: 'other', definition: watcher },
    ],
  });
  await gateway.start();
  const port = Number(/:(\d+)$/.exec(adapter?.address() ?? '')?.[1]);
  const idle = () => new Promise((resolve) => setTimeout(resolve, PHASE_MS));
  const small = encodeFrame({ content_type: 'application/json', message: JSON.stringify({ jsonrpc: '2.0', method: 'device.state', params: ['ticker'], id: 1 }) });
  await phase(idle); // warm-up
  const quiet = await phase(idle);
  // The baseline: the same client busy with usual requests back to back, so that what is
  // compared is the size of one request, not whether a client is there at all.
  let smallAnswered = 0;
  const baseline = await phase(async () => {
    smallAnswered = await flood(port, small, performance.now() + PHASE_MS);
  });
  const baseP99 = percentile(baseline, 99);
  const figures: Figure[] = [
    { metric: "other host's ingest-to-delivery p99, Comodojo idle", value: percentile(quiet, 99), unit: 'ms', note: `${quiet.length} deliveries` },
    { metric: "other host's p99 while Comodojo answers usual requests back to back (the baseline)", value: baseP99, unit: 'ms', note: `${smallAnswered} answered` },
  ];
  let worst = Number.POSITIVE_INFINITY;
  for (const [what, frame] of Object.entries(requests)) {
    let answered = 0;
    const during = await phase(async () => {
      answered = await flood(port, frame, performance.now() + PHASE_MS);
    });
    const p99 = percentile(during, 99);
    const ratio = baseP99 / p99;
    worst = Math.min(worst, ratio);
    figures.push({
      metric: `other host's p99 while Comodojo parses ${what} back to back`,
      value: p99,
      unit: 'ms',
      baseline: baseP99,
      ratio,
      target: 'within 2x the baseline (>= 0.5x)',
      pass: ratio >= 0.5,
      note: `${answered} answered; p50 ${percentile(during, 50).toFixed(2)} ms; max ${(during.at(-1) ?? 0).toFixed(1)} ms`,
    });
  }
  await gateway.stop();
  report('comodojo-fairness', figures, { ratio: worst, label: "other host's p99 during the worst large request vs none" });
}

void main();
