import { existsSync, readFileSync, watch } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describeHostAdapterConformance, Signal, tempDir, type HostPeer, type PeerReply } from '@patchbay/testing';
import { afterAll } from 'vitest';
import exampleAdapter from '../src/index.js';

const dirs: (() => void)[] = [];
afterAll(() => {
  for (const remove of dirs) remove();
});

/** The latest value of device/channel in the file: snapshot lines first, then state events. */
function latest(file: string, { device, channel, accept }: { device: string; channel: string; accept: (value: unknown) => boolean }): { value: unknown } | undefined {
  if (!existsSync(file)) return undefined;
  let found: { value: unknown } | undefined;
  const lines = readFileSync(file, 'utf8').split('\n');
  // The last piece is '' or a line still being written: only whole lines count.
  lines.pop();
  for (const line of lines) {
    const event = JSON.parse(line) as { kind?: string; device?: string; channel?: string; value?: unknown; devices?: { device: string; channels: { channel: string; value: unknown }[] }[] };
    if (event.kind === 'snapshot') {
      const hit = event.devices?.find((d) => d.device === device)?.channels.find((c) => c.channel === channel);
      if (hit && accept(hit.value)) found = { value: hit.value };
    } else if (event.kind === 'state' && event.device === device && event.channel === channel && accept(event.value)) {
      found = { value: event.value };
    }
  }
  return found;
}

/** Sends one command line on a fresh connection and resolves with the answer line. */
function sendCommand(path: string, command: Record<string, unknown>): Promise<PeerReply> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const end = buffered.indexOf('\n');
      if (end < 0) return;
      socket.end();
      resolve(JSON.parse(buffered.slice(0, end)) as PeerReply);
    });
    socket.write(`${JSON.stringify(command)}\n`);
  });
}

// The host's side is the file (events) and the command socket. The file is always reachable,
// so there is no goDown/comeBack: a host that can go away implements them (see adapter-jeedom).
describeHostAdapterConformance('example', {
  definition: exampleAdapter,
  options: () => {
    const dir = tempDir('pb-example-conf-');
    dirs.push(dir.remove);
    return { file: join(dir.path, 'events.jsonl'), commandSocket: join(dir.path, 'commands.sock') };
  },
  connect({ options }): Promise<HostPeer> {
    const { file, commandSocket } = options as { file: string; commandSocket: string };
    const changed = new Signal();
    const watcher = watch(join(file, '..'), () => changed.notify());
    let next = 0;
    return Promise.resolve({
      waitForState: ({ device, channel, accept = () => true, timeoutMs }) =>
        changed.waitUntil(() => latest(file, { device, channel, accept }), { timeoutMs, what: `${device}.${channel} in ${file}` }).then((hit) => hit.value),
      command: ({ device, channel, value }) => sendCommand(commandSocket, { id: `c${++next}`, device, channel, value }),
      async close() {
        watcher.close();
      },
    });
  },
});
