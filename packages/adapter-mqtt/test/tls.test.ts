import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeTlsFiles, Mosquitto, tempDir, type TlsFiles } from '@patchbay/testing';
import { Peer } from './peer.js';
import { startRig } from './rig.js';

let broker: Mosquitto;
let files: TlsFiles;
let dir: { path: string; remove: () => void };
beforeAll(async () => {
  dir = tempDir('patchbay-mqtt-tls-');
  files = makeTlsFiles(dir.path);
  broker = await Mosquitto.start({ tls: files });
});
afterAll(async () => {
  await broker?.close();
  dir?.remove();
});

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

describe('mqtt over TLS (17.5)', () => {
  it('mqtt - mqtts:// with a CA, a client certificate and a key given as file paths: state reaches a TLS subscriber, and no PEM is logged', async () => {
    const r = await startRig({ url: broker.url, discovery: { enabled: false }, tls: { ca: files.ca, cert: files.clientCert, key: files.clientKey } });
    cleanups.push(r.stop);
    const p = await Peer.open(broker.url, [`${r.base}/#`], { ca: readFileSync(files.ca), cert: readFileSync(files.clientCert), key: readFileSync(files.clientKey) });
    cleanups.push(() => p.close());
    r.driver.emit('temperature', 23.5);
    await p.waitLatest(`${r.base}/dev1/temperature`, (t) => t === '23.5');
    expect(r.gateway.health().hosts[0]).toMatchObject({ status: 'alive' });
    const logged = JSON.stringify(r.log.lines);
    expect(logged).not.toContain('PRIVATE KEY');
    expect(logged).not.toContain(readFileSync(files.clientKey, 'utf8').split('\n')[1]);
  });

  it('mqtt - a broker whose certificate the CA does not sign is refused (not silently trusted); the host says why and state waits in the outbox', async () => {
    const other = tempDir('patchbay-mqtt-tls-other-');
    cleanups.push(other.remove);
    const stranger = makeTlsFiles(other.path);
    const r = await startRig({ url: broker.url, discovery: { enabled: false }, reconnectMs: 200, tls: { ca: stranger.ca, cert: files.clientCert, key: files.clientKey } });
    cleanups.push(r.stop);
    r.driver.emit('temperature', 1);
    const line = await r.log.waitFor(/certificate|self.signed|unable to verify/i);
    expect(JSON.stringify(line)).not.toContain('PRIVATE KEY');
    const host = r.gateway.health().hosts[0];
    expect(host?.delivered).toBe(0);
    expect(host?.queued).toBeGreaterThan(0);
  });
});
