import { describeHostAdapterConformance, type HostPeer } from '@patchbay/testing';
import domogikAdapter from '../src/index.js';
import type { DomogikPlugin } from '../src/internal.js';
import { PythonPeer } from './pythonPeer.js';

const service = 'plugin-patchbay.testhost';
const sensors: Record<string, number> = { 'dev1.temperature': 1, 'dev1.humidity': 2, 'dev1.relay': 3 };
const commands: Record<string, number> = { 'dev1.relay': 10, 'no-such-device.relay': 11 };

/**
 * The shared conformance suite with the Python peer as Domogik (xplgw's client.cmd, a
 * subscriber) on the adapter's embedded bus.
 *
 * goDown/comeBack are omitted: pub/sub has no delivery confirmation (§4.4), so a subscriber
 * that is away simply misses publications and the adapter cannot tell. What Domogik offers a
 * late or returning subscriber instead is a request: the peer calls the plugin's `refresh`
 * helper (`helper.do`, §7.3) once it is joined, and the plugin re-publishes the current value
 * of every channel — the same path covers the snapshot-on-connect test.
 */
describeHostAdapterConformance('domogik', {
  definition: domogikAdapter,
  options: () => ({ bus: 'embedded', reqRepPort: 0, pubPort: 0, subPort: 0, host: 'testhost', configService: 'none', statusIntervalMs: 1000, sensors, commands }),
  timeoutMs: 8000,
  async connect({ adapter }): Promise<HostPeer> {
    const ports = (adapter as DomogikPlugin).ports;
    if (!ports) throw new Error('the adapter has no bus ports: not started?');
    const peer = new PythonPeer(ports);
    await peer.subscribe(['plugin.status', 'client.sensor']);
    // Joined once a periodic status arrives (the slow-joiner window is over), then ask for the current state.
    const joinedAfter = peer.events.length;
    await peer.waitFor((e) => e.event === 'pub' && peer.events.indexOf(e) >= joinedAfter, { what: 'a first publication', timeoutMs: 5000 });
    const refresh = await peer.request({ service, action: 'helper.do', data: { command: 'refresh', parameters: {} }, timeout: 5 });
    if (refresh.data?.status !== true) throw new Error(`refresh failed: ${JSON.stringify(refresh)}`);
    return {
      waitForState: async ({ device, channel, accept, timeoutMs }) => {
        const id = String(sensors[`${device}.${channel}`]);
        const match = await peer.waitForPub('client.sensor', (d) => id in d && (accept ? accept(d[id]) : true), { timeoutMs, what: `${device}.${channel} on sensor ${id}` });
        return match.data?.[id];
      },
      command: async ({ device, channel, value }) => {
        const commandId = commands[`${device}.${channel}`];
        const reply = await peer.request({ service, action: 'client.cmd', data: { command_id: commandId, value }, timeout: 10 });
        if (reply.event !== 'reply') return { ok: false, error: 'timeout' };
        return { ok: reply.data?.status === true, value: reply.data?.value, error: reply.data?.reason };
      },
      close: () => peer.close(),
    };
  },
});
