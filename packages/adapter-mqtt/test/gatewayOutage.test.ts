import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawnPatchbay, tempDir, type PatchbayProcess } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { Mosquitto } from '@patchbay/testing';
import { Peer } from './peer.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

describe('mqtt - a real gateway process', () => {
  it('mqtt gateway outage - kill -9: the last will says offline; a command published meanwhile is carried out exactly once on return', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.close());
    const dir = tempDir();
    cleanups.push(dir.remove);
    const config = join(dir.path, 'patchbay.json');
    writeFileSync(
      config,
      JSON.stringify({
        gateway: { name: 'gw', dataDir: join(dir.path, 'data') },
        log: { level: 'info', format: 'json' },
        devices: [{ id: 'thermo1', driver: 'sim', options: { interval: 200 } }],
        hosts: [{ id: 'mqtt', adapter: '@patchbay/adapter-mqtt', options: { url: broker.url, clientId: 'outage-gw', reconnectMs: 200, keepaliveSeconds: 5 } }],
      }),
    );
    const run = (): PatchbayProcess => {
      const proc = spawnPatchbay(['run', '--config', config, '--port', '0']);
      cleanups.push(() => proc.stop());
      return proc;
    };
    const peer = await Peer.open(broker.url, ['patchbay/#']);
    cleanups.push(() => peer.close());

    const first = run();
    await first.waitStarted();
    await peer.waitLatest('patchbay/bridge/state', (t) => t === 'online');
    await peer.waitLatest('patchbay/thermo1/relay', (t) => t === 'OFF');
    expect(await peer.request('patchbay/thermo1/relay/set', 'OFF')).toEqual({ ok: true, value: false });

    first.child.kill('SIGKILL');
    await first.exited;
    // The broker sees the connection drop and publishes the will.
    await peer.waitLatest('patchbay/bridge/state', (t) => t === 'offline');

    // A command while the gateway is away: the broker keeps it in the gateway's session.
    const correlation = randomBytes(8);
    const replyTopic = `replies/outage-${correlation.toString('hex')}`;
    await peer.client.subscribeAsync(replyTopic, { qos: 1 });
    await peer.client.publishAsync('patchbay/thermo1/relay/set', 'ON', { qos: 1, properties: { responseTopic: replyTopic, correlationData: correlation } });

    const second = run();
    await second.waitStarted();
    const reply = await peer.waitFor((m) => m.topic === replyTopic, { what: 'the reply to the command sent while the gateway was down', timeoutMs: 20_000 });
    expect(JSON.parse(reply.text)).toEqual({ ok: true, value: true });
    await peer.waitLatest('patchbay/thermo1/relay', (t) => t === 'ON');
    await peer.waitLatest('patchbay/bridge/state', (t) => t === 'online');
    // A round trip after it: by then a second delivery of the queued command would have been answered too.
    expect(await peer.request('patchbay/thermo1/humidity/set', '50')).toMatchObject({ ok: expect.any(Boolean) });
    expect(peer.messages.filter((m) => m.topic === replyTopic)).toHaveLength(1);
  }, 60_000);
});
