import { randomUUID } from 'node:crypto';
import { describeHostAdapterConformance, type HostPeer } from '@patchbay/testing';
import { afterAll } from 'vitest';
import jeedom from '../src/index.js';
import type { JeedomAdapter } from '../src/internal.js';
import { PhpCallback, sendRaw, type CallbackRecord } from './peer.js';
import { APIKEY } from './rig.js';

type Decoded = { devices?: Record<string, Record<string, unknown>>; replies?: Record<string, { ok: boolean; value?: unknown; error?: unknown }> };
const decoded = (r: CallbackRecord): Decoded => (r.decoded ?? {}) as Decoded;

/** Every callback server the conformance harness made, closed at the end. */
const callbacks: PhpCallback[] = [];
afterAll(async () => {
  for (const peer of callbacks) await peer.close();
});

// The shared suite, with a real PHP callback server and a TCP client as the host (goDown/comeBack
// stop and restart the callback server on the same port).
describeHostAdapterConformance('jeedom', {
  definition: jeedom,
  timeoutMs: 10_000,
  async options() {
    const peer = await PhpCallback.start();
    callbacks.push(peer);
    return { socketPort: 0, apikey: APIKEY, callback: peer.url, cycle: 0.05, http: { retryDelayMs: 100 } };
  },
  async connect({ options, adapter }): Promise<HostPeer> {
    const url = (options as { callback: string }).callback;
    const peer = callbacks.find((c) => c.url === url) as PhpCallback;
    const port = (adapter as JeedomAdapter).port as number;
    return {
      waitForState: ({ device, channel, accept, timeoutMs }) =>
        peer.waitFor(
          (records) => {
            for (const r of records) {
              const entry = r.answered === 200 ? decoded(r).devices?.[device] : undefined;
              if (entry && channel in entry && (!accept || accept(entry[channel]))) return { value: entry[channel] };
            }
            return undefined;
          },
          `${device}.${channel} at the callback`,
          timeoutMs,
        ).then((found) => found.value),
      command: async ({ device, channel, value }) => {
        const id = randomUUID();
        await sendRaw(port, JSON.stringify({ action: 'command', device, channel, value, id, apikey: APIKEY }));
        const reply = await peer.waitFor((records) => records.map((r) => decoded(r).replies?.[id]).find((x) => x !== undefined), `the reply to ${id}`);
        return { ok: reply.ok, value: reply.value, error: reply.error };
      },
      goDown: () => peer.stop(),
      comeBack: () => peer.restart(),
      close: async () => undefined,
    };
  },
});
