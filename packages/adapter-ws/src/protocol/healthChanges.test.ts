import type { ClusterHealth, EndpointHealth, GatewayHealth } from '@patchbay/core';
import { describe, expect, it } from 'vitest';
import { healthBaseline, healthChanges } from './healthChanges.js';

const section = (bStatus: 'online' | 'offline' | 'unknown'): ClusterHealth => ({
  cluster: 'home',
  gateway: 'a',
  broker: 'mqtt://127.0.0.1:1883',
  connected: true,
  gateways: [
    { id: 'a', status: 'online', self: true, devices: ['thermo1'] },
    { id: 'b', status: bStatus, devices: ['meter9'] },
  ],
  refused: [],
});

const report = (cluster?: ClusterHealth | null): GatewayHealth => ({
  status: 'ok',
  name: 'a',
  uptimeMs: 1000,
  input: { bufferedBytes: 0, peakBytes: 0, limitBytes: 1024, refused: 0 },
  devices: [],
  hosts: [],
  ...(cluster === undefined ? {} : { cluster }),
});

describe('ws protocol - health changes', () => {
  it('ws protocol - (19.7) the cluster section is sent whole when it changed, and only then', () => {
    const online = report(section('online'));
    expect(healthChanges(healthBaseline(online), report(section('online')))).toBeUndefined();
    // One gateway went offline: the whole section comes, with nothing else.
    const offline = report(section('offline'));
    expect(healthChanges(healthBaseline(online), offline)).toEqual({ cluster: offline.cluster, devices: [], hosts: [], removed: [] });
    // A refused duplicate is a change too.
    const refusing = report({ ...section('online'), refused: [{ device: 'thermo1', gateway: 'b', heldBy: 'a', reason: 'taken' }] });
    expect(healthChanges(healthBaseline(online), refusing)?.cluster).toEqual(refusing.cluster);
  });

  it('ws protocol - (19.7) a link that starts or stops sends the section or null; a gateway in no cluster never sends the key', () => {
    const started = report(section('online'));
    expect(healthChanges(healthBaseline(report(null)), started)?.cluster).toEqual(started.cluster);
    const stopped = healthChanges(healthBaseline(started), report(null));
    expect(stopped).toBeDefined();
    expect(stopped?.cluster).toBeNull();
    const alone = healthChanges(healthBaseline(report()), { ...report(), status: 'degraded' });
    expect(alone).toBeDefined();
    expect('cluster' in (alone ?? {})).toBe(false);
  });

  it('ws protocol - (20) a device entry comes again when values or descriptions from it are first refused, not when it only reported or was refused again', () => {
    const device = (change: Partial<EndpointHealth>): GatewayHealth => ({
      ...report(),
      devices: [{ id: 'thermo1', kind: 'device', type: 'sim', status: 'alive', lastSeen: 1, queued: 0, delivered: 1, failed: 0, retries: 0, restarts: 0, availability: 'online', ...change }],
    });
    const base = healthBaseline(device({}));
    expect(healthChanges(base, device({ lastSeen: 2, delivered: 2 }))).toBeUndefined();
    expect(healthChanges(base, device({ valuesRefused: 1 }))?.devices).toMatchObject([{ id: 'thermo1', valuesRefused: 1 }]);
    expect(healthChanges(base, device({ descriptionsRefused: 1 }))?.devices).toMatchObject([{ id: 'thermo1', descriptionsRefused: 1 }]);
    // Once refusing, each further refusal is a count, as each report is.
    const refusing = healthBaseline(device({ valuesRefused: 1 }));
    expect(healthChanges(refusing, device({ valuesRefused: 7, delivered: 9 }))).toBeUndefined();
  });

  it('ws protocol - (20) a device gone is in removed, and a device and a host of one id are compared each as itself', () => {
    const entry = (id: string, kind: 'device' | 'host', status: EndpointHealth['status']): EndpointHealth => ({ id, kind, type: kind === 'device' ? 'sim' : 'ws', status, lastSeen: 1, queued: 0, delivered: 1, failed: 0, retries: 0, restarts: 0 });
    const health = (devices: EndpointHealth[], hosts: EndpointHealth[]): GatewayHealth => ({ ...report(), devices, hosts });
    const base = healthBaseline(health([entry('x', 'device', 'alive'), entry('gone', 'device', 'alive')], [entry('x', 'host', 'alive')]));
    // The host x changes and the device x does not: only the host comes.
    const hostDown = health([entry('x', 'device', 'alive')], [entry('x', 'host', 'unknown')]);
    expect(healthChanges(base, hostDown)).toEqual({ devices: [], hosts: [hostDown.hosts[0]], removed: ['gone'] });
    // And the other way round.
    const deviceDown = health([entry('x', 'device', 'unknown'), entry('gone', 'device', 'alive')], [entry('x', 'host', 'alive')]);
    expect(healthChanges(base, deviceDown)).toEqual({ devices: [deviceDown.devices[0]], hosts: [], removed: [] });
  });
});
