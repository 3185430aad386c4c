/**
 * The raw baseline of one point, as its own process (measured from /proc like the gateway): N
 * devices' values at the same total rate, stamped at generation, sent over the same transports
 * and wire shapes with no Patchbay in between: one keep-alive JSON POST per change to the Jeedom callback,
 * one Unix connection per TLM to the Tracim client (one at a time, latest per channel while
 * one is in flight, as the SDK's backlog-1 listener needs), a zeromq PUB straight to the
 * subscriber (no forwarder), a ws fan-out, an echo for every command path, and each value
 * appended to a file (asynchronous writes) in 5 ms batches. Serves /healthz so start-up is timed the same.
 */
import { createWriteStream } from 'node:fs';
import { Agent, createServer as createHttpServer, request } from 'node:http';
import { connect, createServer } from 'node:net';
import { rmSync } from 'node:fs';
import { WebSocketServer, type WebSocket } from 'ws';
import * as zmq from 'zeromq';
import { COMODOJO_GREETER, comodojoResponse, deviceId, lines, reportedChannels, sensorId, tracimEnvelope, type Endpoints, type PointShape } from './wire.js';

const { ep, shape, journal } = JSON.parse(process.argv[2] as string) as { ep: Endpoints; shape: PointShape; journal: string };
// Asynchronous appends, as the gateway's journal does: a synchronous one stalls the whole loop on a busy disk.
const journalFile = createWriteStream(journal, { flags: 'a' });

// ws fan-out and /healthz on the HTTP port.
const http = createHttpServer((req, res) => {
  // The gateway's counter of values reported, under the same name, for the same "values in".
  if (req.url === '/metrics') res.writeHead(200, { 'content-type': 'text/plain' }).end(`patchbay_device_events_total{device="raw"} ${sent}\n`);
  else res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json' }).end('{"status":"ok"}');
});
const wss = new WebSocketServer({ server: http, path: '/ws', perMessageDeflate: false });
const clients = new Set<WebSocket>();
wss.on('connection', (socket) => {
  clients.add(socket);
  socket.on('close', () => clients.delete(socket));
  socket.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { id: string };
    socket.send(JSON.stringify({ type: 'reply', id: msg.id, ok: true, time: Date.now() }));
  });
});

// Jeedom: commands on TCP (one JSON per connection), state and replies as keep-alive POSTs.
// Immediate mode, as the adapter runs here (cycle 0): one POST per change, one at a time, in
// order; while one is in flight the latest value per channel waits (an outbox coalesces the same way).
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const jeedomQueue = new Map<string, string>();
let jeedomInFlight = false;
function postJeedom(): void {
  if (jeedomInFlight) return;
  const next = jeedomQueue.entries().next();
  if (next.done) return;
  const [key, body] = next.value;
  jeedomQueue.delete(key);
  jeedomInFlight = true;
  const req = request({ host: '127.0.0.1', port: ep.jeedomCallback, path: '/jeePatchbay.php', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
    res.resume();
    res.on('end', () => {
      jeedomInFlight = false;
      postJeedom();
    });
  });
  req.on('error', () => (jeedomInFlight = false));
  req.end(body);
}
function queueJeedom(key: string, body: string): void {
  jeedomQueue.delete(key);
  jeedomQueue.set(key, body);
  postJeedom();
}
createServer((socket) => {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  socket.on('end', () => {
    const msg = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string };
    queueJeedom(`reply ${msg.id}`, JSON.stringify({ replies: { [msg.id]: { ok: true } } }));
  });
}).listen(ep.jeedomSocket, '127.0.0.1');

// Tracim: the master socket takes daemon_client_add and patchbay_command; TLMs go to the client one connection at a time.
let tracimClient: string | undefined;
let tracimEventId = 0;
const tracimQueue = new Map<string, string>();
let tracimInFlight = false;
function sendTracim(): void {
  if (tracimInFlight || !tracimClient) return;
  const next = tracimQueue.entries().next();
  if (next.done) return;
  const [key, text] = next.value;
  tracimQueue.delete(key);
  tracimInFlight = true;
  const socket = connect({ path: tracimClient });
  const done = () => {
    tracimInFlight = false;
    setImmediate(sendTracim);
  };
  socket.once('error', done);
  socket.once('connect', () => socket.end(text));
  socket.once('close', done);
}
function queueTracim(key: string, text: string): void {
  tracimQueue.delete(key);
  tracimQueue.set(key, text);
  sendTracim();
}
rmSync(ep.tracimMaster, { force: true });
createServer((socket) => {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  socket.on('end', () => {
    const msg = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string; path: string; data: { id: string } };
    if (msg.type === 'daemon_client_add') tracimClient = msg.path;
    if (msg.type === 'patchbay_command') queueTracim(`reply ${msg.data.id}`, tracimEnvelope(ep.tracimMaster, 'patchbay_reply', { id: msg.data.id, ok: true }));
  });
}).listen(ep.tracimMaster);

// Domogik: PUB bound where the subscriber connects (the forwarder's out port), REP where requests go.
const pub = new zmq.Publisher({ sendHighWaterMark: 100_000 });
await pub.bind(`tcp://127.0.0.1:${ep.sub}`);
const rep = new zmq.Reply();
await rep.bind(`tcp://127.0.0.1:${ep.reqRep}`);
void (async () => {
  for await (const [, service] of rep) await rep.send(['MDPC01', String(service), 'client.cmd.result', JSON.stringify({ status: true, reason: '' })]);
})();
let pubChain: Promise<void> = Promise.resolve();

// Comodojo: greeter, then one response frame per request frame on the same connection.
createServer((socket) => {
  socket.on('error', () => undefined);
  socket.write(COMODOJO_GREETER);
  socket.on(
    'data',
    lines((line) => {
      const text = Buffer.from(line, 'base64').toString('utf8');
      const id = /"id":(\d+)/.exec(text)?.[1] ?? 'null';
      socket.write(comodojoResponse(`{"jsonrpc":"2.0","result":{"ok":true},"id":${id}}`));
    }),
  );
}).listen(ep.comodojo, '127.0.0.1');

// The devices: a random walk per device, the same number of values per second in total.
const temperature = new Float64Array(shape.devices).fill(21);
const humidity = new Float64Array(shape.devices).fill(45);
let next = 0;
/** Values generated, and values skipped after a stall. */
let sent = 0;
let skipped = 0;
let started = 0;
function tick(): void {
  let due = Math.floor(((performance.now() - started) / 1000) * shape.rate) - sent - skipped;
  if (due <= 0) return;
  // After a stall, like the sim's timers, it does not catch up: at most 20 ms worth at once.
  const cap = Math.ceil(shape.rate / 50);
  if (due > cap) {
    skipped += due - cap;
    due = cap;
  }
  const time = Date.now();
  let lines = '';
  for (let n = 0; n < due; n++) {
    const index = next % (shape.devices * 2);
    next++;
    const i = index >> 1;
    const channel = reportedChannels[index & 1] as string;
    let value: number;
    if (channel === 'temperature') value = temperature[i] = Math.round((temperature[i] as number) * 100 + (Math.random() - 0.5) * 40) / 100;
    else value = humidity[i] = Math.round(Math.min(100, Math.max(0, (humidity[i] as number) + (Math.random() - 0.5))) * 10) / 10;
    const device = deviceId(i);
    const id = `${time}-${sent + n}`;
    lines += JSON.stringify({ id, kind: 'state', time, device, channel, value }) + '\n';
    const state = JSON.stringify({ type: 'state', id, time, device, channel, value });
    for (const client of clients) client.send(state);
    queueJeedom(`${device}.${channel}`, JSON.stringify({ devices: { [device]: { [channel]: value } } }));
    queueTracim(`${device}.${channel}`, tracimEnvelope(ep.tracimMaster, 'daemon_tracim_event', JSON.stringify({ event_id: ++tracimEventId, event_type: 'device.modified.state', fields: { device, channel, value } })));
    const payload = JSON.stringify({ [String(sensorId(i, channel))]: value, atTimestamp: Math.floor(time / 1000) });
    pubChain = pubChain.then(() => pub.send([`client.sensor.${time}.0_1`, payload])).catch(() => undefined);
  }
  sent += due;
  journalFile.write(lines);
}

http.listen(ep.http, '127.0.0.1', () => {
  started = performance.now();
  setInterval(tick, 5);
});
process.on('SIGTERM', () => process.exit(0));
