/**
 * The K ws clients, in a worker thread: at 10,000 values/s to 10 clients they receive 100,000
 * messages a second, which on the bench's main thread would make the bench, not the gateway,
 * what falls behind. The first ten keep their own latencies and each event's ingest time (its
 * `time`) for the other hosts' latency match.
 */
import { parentPort, workerData } from 'node:worker_threads';
import WebSocket from 'ws';

export interface WsTallies {
  values: number;
  valuesIn: number;
  latencies: number[];
  rtts: number[];
  failed: number;
  commands: number;
  healthBytes: number;
  /** Clients the gateway closed. */
  dropped: number;
  ingest: [string, number[]][];
}

const { url, clients } = workerData as { url: string; clients: number };
const port = parentPort as NonNullable<typeof parentPort>;
const tallies: WsTallies = { values: 0, valuesIn: 0, latencies: [], rtts: [], failed: 0, commands: 0, healthBytes: 0, dropped: 0, ingest: [] };
const ingest = new Map<string, number[]>();
const pending = new Map<string, [number, number]>();
let window: [number, number] = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
let recording = false;
const sockets: WebSocket[] = [];
const seen = new Set<string>();
let closing = false;

const opened: Promise<void>[] = [];
for (let i = 0; i < clients; i++) {
  const socket = new WebSocket(url, { perMessageDeflate: false });
  const first = i === 0;
  const timed = i < 10;
  socket.on('message', (data: Buffer) => {
    const at = Date.now();
    // A cheap type test on the first bytes: most clients only count, and a snapshot of 10,000 devices is not decoded 100 times.
    const head = data.toString('latin1', 0, 16);
    if (head.startsWith('{"type":"state"')) {
      const text = data.toString('utf8');
      if (recording) tallies.values++;
      if (!timed || (!recording && !first)) return;
      const msg = JSON.parse(text) as { id: string; device: string; channel: string; value: unknown; time: number };
      if (recording) tallies.latencies.push(at - msg.time);
      if (first && recording) tallies.valuesIn++;
      // Any of the first ten clients records an event's ingest time once (one may have been
      // dropped), and always, not only while recording: a host far behind delivers values
      // ingested before the window.
      if (seen.has(msg.id)) return;
      seen.add(msg.id);
      const key = `${msg.device}\0${msg.channel}\0${String(msg.value)}`;
      const times = ingest.get(key);
      if (times) times.push(msg.time);
      else ingest.set(key, [msg.time]);
    } else if (head.startsWith('{"type":"health"')) {
      if (first && recording) tallies.healthBytes += data.length;
    } else if (head.startsWith('{"type":"reply"')) {
      const msg = JSON.parse(data.toString('utf8')) as { id: string; ok: boolean };
      const [seq, sentAt] = pending.get(msg.id) ?? [];
      if (seq === undefined || sentAt === undefined) return;
      pending.delete(msg.id);
      if (seq < window[0] || seq > window[1]) return;
      tallies.rtts.push(performance.now() - sentAt);
      if (msg.ok !== true) tallies.failed++;
    }
  });
  socket.on('error', () => undefined);
  // Closed by the gateway (a client whose backlog passed maxBufferedBytes is dropped).
  socket.on('close', () => {
    if (!closing) tallies.dropped++;
  });
  opened.push(new Promise<void>((resolve, reject) => socket.once('open', resolve).once('error', reject)));
  sockets.push(socket);
}
Promise.all(opened).then(
  () => port.postMessage({ type: 'open' }),
  (error: unknown) => port.postMessage({ type: 'error', error: String(error) }),
);

port.on('message', (msg: { type: 'record'; on: boolean; window: [number, number] } | { type: 'command'; id: string; seq: number; value: boolean } | { type: 'collect' }) => {
  if (msg.type === 'record') {
    recording = msg.on;
    window = msg.window;
  } else if (msg.type === 'command') {
    if (recording) tallies.commands++;
    pending.set(msg.id, [msg.seq, performance.now()]);
    sockets[0]?.send(JSON.stringify({ type: 'command', id: msg.id, device: 'd0', channel: 'relay', value: msg.value }));
  } else {
    tallies.ingest = [...ingest];
    closing = true;
    port.postMessage({ type: 'tallies', tallies });
    for (const socket of sockets) socket.terminate();
    port.close();
  }
});
