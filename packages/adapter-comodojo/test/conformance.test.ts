import { describeHostAdapterConformance, type HostPeer, type PeerReply } from '@patchbay/testing';
import comodojo, { type ComodojoAdapter } from '../src/index.js';
import { open } from './helpers.js';

/** A Node client of the framing as the conformance peer: pull protocol, so state is polled with device.state. */
async function conformancePeer(adapter: ComodojoAdapter): Promise<HostPeer> {
  const client = await open(adapter.address() as string);
  let id = 0;
  const rpc = async (method: string, params: unknown[]) => {
    const response = await client.call('application/json', JSON.stringify({ jsonrpc: '2.0', method, params, id: ++id }));
    return JSON.parse(response.message ?? 'null') as { result?: unknown; error?: { code: number; message: string } };
  };
  return {
    async waitForState({ device, channel, accept, timeoutMs = 5000 }) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await rpc('device.state', [device]);
        const value = (r.result as { channels?: Record<string, unknown> } | undefined)?.channels?.[channel];
        if (value !== undefined && (!accept || accept(value))) return value;
        if (Date.now() > deadline) throw new Error(`no ${device}.${channel} state within ${timeoutMs} ms`);
        // Polling is what a pull protocol's host does; each poll is a real round trip.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async command({ device, channel, value }): Promise<PeerReply> {
      const r = await rpc('device.command', [device, channel, value]);
      return r.error ? { ok: false, error: r.error } : { ok: true, value: r.result };
    },
    // No goDown/comeBack: Comodojo is a pull protocol, nothing is pushed to the host, so there
    // is nothing to lose while it is away (it reads the retained snapshot when it asks).
    async close() {
      client.close();
    },
  };
}

describeHostAdapterConformance('comodojo', {
  definition: comodojo,
  options: () => ({ socket: 'tcp://127.0.0.1:0' }),
  connect: ({ adapter }) => conformancePeer(adapter as ComodojoAdapter),
});
