import { afterEach, describe, expect, it } from 'vitest';
// The serial side's own test pieces (a socat pty pair and the simulated serial device):
// this end-to-end test crosses packages on purpose, as Jeedom starts the gateway on a serial bridge.
import { serveSimulatedDevice } from '@patchbay/driver-serial';
import { launchDaemon, scratch } from '../packages/adapter-jeedom/test/launch.ts';
import { freePort, PtyPair } from '@patchbay/testing';
import { PhpCallback, sendRaw } from '../packages/adapter-jeedom/test/peer.ts';
import { APIKEY } from '../packages/adapter-jeedom/test/rig.ts';

describe('jeedom - launch mode with --device (serial bridge)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void> | void)();
  });

  it('jeedom - §10.1 --device PATH bridges the serial device: its state goes up, a Jeedom command reaches it and the reply comes back', async () => {
    const pair = await PtyPair.open();
    cleanups.push(() => pair.close());
    const peer = await PhpCallback.start();
    cleanups.push(() => peer.close());
    const s = scratch();
    cleanups.push(() => s.remove());
    const port = await freePort();
    const daemon = launchDaemon(['--socketport', String(port), '--apikey', APIKEY, '--pid', s.pid, '--callback', peer.url, '--cycle', '0', '--device', pair.a, '--loglevel', 'info'], s.log.path);
    cleanups.push(() => {
      if (daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
    });
    // The device speaks once the gateway holds the other end of the line (it reports everything as it opens).
    await s.log.waitFor(/device serial \(serial\) is alive/);
    const sim = await serveSimulatedDevice({ path: pair.b, interval: 60_000, initial: { temperature: 18.5, relay: false } });
    cleanups.push(() => sim.stop());
    type Body = { devices?: { serial?: Record<string, unknown> }; replies?: Record<string, { ok: boolean; value?: unknown }> };
    await peer.waitFor(() => (peer.latest('serial', 'temperature') === 18.5 ? true : undefined), 'the serial device state at the callback', 15_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\nlog:\n${s.log.text()}\nposts:\n${peer.posts().map((r) => r.body).join('\n')}`);
    });
    await s.log.waitFor(/Listening on/);
    await sendRaw(port, JSON.stringify({ action: 'command', device: 'serial', channel: 'relay', value: true, id: 'r1', apikey: APIKEY }));
    const reply = await peer.waitFor((rs) => rs.map((r) => (r.decoded as Body | null)?.replies?.r1).find((x) => x !== undefined), 'the reply', 15_000);
    expect(reply).toEqual({ ok: true, value: true });
    expect(sim.device.values().relay).toBe(true);
    await peer.waitFor(() => (peer.latest('serial', 'relay') === true ? true : undefined), 'the relay state');
    daemon.child.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  });
});
