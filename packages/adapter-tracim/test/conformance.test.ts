import { join } from 'node:path';
import { describeHostAdapterConformance, tempDir, type HostPeer } from '@patchbay/testing';
import { afterAll } from 'vitest';
import tracimAdapter from '../src/index.js';
import { startPyPeer } from './helpers.js';

const dirs: (() => void)[] = [];
afterAll(() => {
  for (const remove of dirs) remove();
});

// The peer is a registered Python SDK-like client; going down = it stops listening on its
// socket path without unregistering (the master keeps its queue), coming back = it listens again.
describeHostAdapterConformance('tracim', {
  definition: tracimAdapter,
  options: () => {
    const dir = tempDir('pb-tracim-conf-');
    dirs.push(dir.remove);
    return { socketPath: join(dir.path, 'master.sock'), pingInterval: 60_000 };
  },
  timeoutMs: 8000,
  async connect({ options }): Promise<HostPeer> {
    const master = (options as { socketPath: string }).socketPath;
    const peer = await startPyPeer({ master, path: join(master, '..', `client-${Math.random().toString(36).slice(2, 8)}.sock`) });
    await peer.waitFor('daemon_account_info');
    let next = 0;
    const states = () =>
      peer.received('daemon_tracim_event').map((m) => (JSON.parse(m.data as string) as { fields: { device: string; channel: string; value: unknown } }).fields);
    return {
      waitForState: ({ device, channel, accept, timeoutMs }) =>
        peer.waitUntil(
          () => {
            const hit = states().find((f) => f.device === device && f.channel === channel && (accept ? accept(f.value) : true));
            return hit === undefined ? undefined : { value: hit.value };
          },
          `state ${device}.${channel}`,
          timeoutMs,
        ).then((h) => h.value),
      command: async ({ device, channel, value }) => {
        const id = `cmd-${++next}`;
        await peer.send({ path: peer.path, type: 'patchbay_command', data: { id, device, channel, value } });
        const reply = await peer.waitUntil(() => peer.received('patchbay_reply').find((m) => (m.data as { id: string }).id === id), `reply ${id}`);
        const data = reply.data as { ok: boolean; value?: unknown; error?: unknown };
        return { ok: data.ok, value: data.value, error: data.error };
      },
      goDown: () => peer.cmd({ cmd: 'stop_listening' }),
      comeBack: () => peer.cmd({ cmd: 'start_listening' }),
      close: () => peer.kill(),
    };
  },
});
