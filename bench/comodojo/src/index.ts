/**
 * Comodojo benchmark (PERFORMANCE.md: calls on one persistent connection >= 0.5x a raw line-echo
 * server with the same framing). Measures `device.state` round trips per second over 1 and 10
 * persistent TCP connections, next to a raw server that echoes each base64 line, in the same run.
 */
import { createComodojoDefinition, type ComodojoAdapter } from '@patchbay/adapter-comodojo';
import { encodeFrame } from '@patchbay/adapter-comodojo/internal';
import { median, nowMs, report, type Figure } from '@patchbay/bench-kit';
import { createGateway } from '@patchbay/core';
import sim from '@patchbay/driver-sim';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';

const PHASE_MS = 2000;
const ROUNDS = 3;
const request = encodeFrame({ content_type: 'application/json', message: JSON.stringify({ jsonrpc: '2.0', method: 'device.state', params: ['thermo1'], id: 1 }) });

/** The raw baseline: greeter, then every LF-terminated line written straight back. */
function rawEchoServer(): Promise<Server> {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.write('YToyOntzOjY6InN0YXR1cyI7czo5OiJjb25uZWN0ZWQiO3M6NzoidmVyc2lvbiI7czozOiIxLjAiO30=\r\n');
    let pending = '';
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => {
      pending += data;
      let lf = pending.indexOf('\n');
      while (lf >= 0) {
        socket.write(pending.slice(0, lf + 1));
        pending = pending.slice(lf + 1);
        lf = pending.indexOf('\n');
      }
    });
    socket.on('error', () => undefined);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** One persistent connection doing request/response back to back until the deadline; returns calls. */
function client(port: number, deadline: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    let greeted = false;
    let calls = 0;
    let buffer = '';
    socket.on('data', (data: string) => {
      buffer += data;
      let lf = buffer.indexOf('\n');
      while (lf >= 0) {
        buffer = buffer.slice(lf + 1);
        if (greeted) calls++;
        greeted = true;
        if (nowMs() >= deadline) {
          socket.destroy();
          resolve(calls);
          return;
        }
        socket.write(request);
        lf = buffer.indexOf('\n');
      }
    });
    socket.on('error', reject);
  });
}

async function rate(port: number, connections: number): Promise<number> {
  const start = nowMs();
  const deadline = start + PHASE_MS;
  const calls = await Promise.all(Array.from({ length: connections }, () => client(port, deadline)));
  return (calls.reduce((a, b) => a + b, 0) * 1000) / (nowMs() - start);
}

async function main(): Promise<void> {
  const base = createComodojoDefinition();
  let adapter: ComodojoAdapter | undefined;
  // Keep the created instance to read its bound port (port 0 = any free port).
  const definition = { ...base, create: ((config, ctx) => (adapter = base.create(config, ctx) as ComodojoAdapter)) as typeof base.create };
  const gateway = createGateway({
    devices: [{ id: 'thermo1', definition: sim, options: { interval: 3_600_000 } }],
    hosts: [{ id: 'rpc', definition, options: { socket: 'tcp://127.0.0.1:0', maxConnections: 100 } }],
  });
  await gateway.start();
  const adapterPort = Number(/:(\d+)$/.exec(adapter?.address() ?? '')?.[1]);
  const raw = await rawEchoServer();
  const rawPort = (raw.address() as AddressInfo).port;
  const samples = { raw1: [] as number[], pb1: [] as number[], raw10: [] as number[], pb10: [] as number[] };
  await rate(adapterPort, 1); // warm-up
  await rate(rawPort, 1);
  for (let round = 0; round < ROUNDS; round++) {
    samples.raw1.push(await rate(rawPort, 1));
    samples.pb1.push(await rate(adapterPort, 1));
    samples.raw10.push(await rate(rawPort, 10));
    samples.pb10.push(await rate(adapterPort, 10));
  }
  await gateway.stop();
  await new Promise((resolve) => raw.close(resolve));
  const one = median(samples.pb1);
  const oneRaw = median(samples.raw1);
  const ten = median(samples.pb10);
  const tenRaw = median(samples.raw10);
  const figures: Figure[] = [
    { metric: 'device.state calls/s, 1 persistent TCP connection', value: one, unit: 'calls/s', baseline: oneRaw, ratio: one / oneRaw, target: '>= 0.5x', pass: one / oneRaw >= 0.5, note: 'baseline: raw base64 line echo, same framing' },
    { metric: 'device.state calls/s, 10 concurrent TCP connections', value: ten, unit: 'calls/s', baseline: tenRaw, ratio: ten / tenRaw, note: 'baseline: raw base64 line echo, 10 connections' },
  ];
  report('comodojo', figures, { ratio: one / oneRaw, label: 'device.state on one connection vs raw line echo' });
}

void main();
