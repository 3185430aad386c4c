import { type CommandEvent, createGateway, defineAdapter, defineDriver, type DriverContext, ErrorCodes, type HostContext, isPatchbayError, type OutboundEvent } from '@patchbay/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

function host() {
  const state: { ctx?: HostContext; delivered: OutboundEvent[] } = { delivered: [] };
  const definition = defineAdapter({
    type: 'test-host',
    config: z.object({}),
    create: (_c, ctx) => ({ start: () => void (state.ctx = ctx), stop: () => undefined, deliver: (event) => void state.delivered.push(event) }),
  });
  return { definition, state };
}

function remoteDriver() {
  const state: { ctx?: DriverContext; sent: CommandEvent[] } = { sent: [] };
  const definition = defineDriver({
    type: 'cluster-remote',
    config: z.object({}),
    create: (_c, ctx) => ({
      start: () => void (state.ctx = ctx),
      stop: () => undefined,
      send: (command) => {
        state.sent.push(command);
        return { ok: true, value: 'forwarded' };
      },
    }),
  });
  return { definition, state };
}

const noDevice = defineDriver({ type: 'none', config: z.object({}), create: () => ({ start: () => undefined, stop: () => undefined, send: () => ({ ok: true }) }) });

describe('core remote devices', () => {
  it('core remote - a remote device is shown to every host but the link that brought it, with its origin; its commands go to its stand-in driver (19.3)', async () => {
    const ws = host();
    const link = host();
    const remote = remoteDriver();
    const gateway = createGateway({ name: 'B', devices: [], hosts: [{ id: 'ws', definition: ws.definition }, { id: 'cluster', definition: link.definition }] });
    await gateway.start();
    await gateway.addRemoteDevice({ id: 'thermo1', origin: 'A', via: 'cluster', definition: remote.definition });
    expect(ws.state.ctx?.devices().map((d) => [d.id, d.origin])).toEqual([['thermo1', 'A']]);
    expect(link.state.ctx?.devices()).toEqual([]);
    remote.state.ctx?.emit('temperature', 21.5);
    expect(ws.state.delivered.some((e) => e.kind === 'state' && e.device === 'thermo1' && e.value === 21.5)).toBe(true);
    expect(link.state.delivered.some((e) => 'device' in e && e.device === 'thermo1')).toBe(false);
    const reply = await gateway.submit('ws', { device: 'thermo1', channel: 'relay', value: true });
    expect(reply).toMatchObject({ ok: true, value: 'forwarded' });
    expect(remote.state.sent).toHaveLength(1);
    expect(gateway.health().devices.find((d) => d.id === 'thermo1')?.origin).toBe('A');

    expect(await gateway.removeRemoteDevice('thermo1')).toBe(true);
    expect(ws.state.ctx?.devices()).toEqual([]);
    expect(gateway.snapshot().devices).toEqual([]);
    await gateway.stop({ drainTimeoutMs: 100 });
  });

  it('core remote - an id already taken by a local device, another gateway\'s device or a host is refused with DEVICE_ID_TAKEN (19.3)', async () => {
    const ws = host();
    const gateway = createGateway({ name: 'B', devices: [{ id: 'local1', definition: noDevice }], hosts: [{ id: 'ws', definition: ws.definition }] });
    await gateway.start();
    await gateway.addRemoteDevice({ id: 'r1', origin: 'A', via: 'ws', definition: remoteDriver().definition });
    for (const [id, origin] of [['local1', 'A'], ['r1', 'C'], ['ws', 'A']] as const) {
      const error = await gateway.addRemoteDevice({ id, origin, via: 'ws', definition: remoteDriver().definition }).then(() => undefined, (e: unknown) => e);
      expect(isPatchbayError(error, ErrorCodes.DEVICE_ID_TAKEN)).toBe(true);
    }
    expect(gateway.health().devices.map((d) => d.id).sort()).toEqual(['local1', 'r1']);
    // A reload of this gateway's own config leaves remote devices alone.
    const result = await gateway.reload({ devices: [{ id: 'local1', definition: noDevice }], hosts: [{ id: 'ws', definition: ws.definition }] });
    expect(result.removed).toEqual([]);
    expect(gateway.health().devices.map((d) => d.id).sort()).toEqual(['local1', 'r1']);
    await gateway.stop({ drainTimeoutMs: 100 });
  });

  it('core remote - with remoteRoutes, routes may name a remote device before it is there: it goes to the hosts they name; one they do not name goes to every host (19.3)', async () => {
    const ws = host();
    const other = host();
    const link = host();
    const spec = {
      devices: [{ id: 'local1', definition: noDevice }],
      hosts: [{ id: 'ws', definition: ws.definition }, { id: 'other', definition: other.definition }, { id: 'cluster', definition: link.definition }],
      routes: [{ devices: ['local1', 'meter9'], hosts: ['ws'] }],
    };
    expect(() => createGateway(spec)).toThrow(/unknown device "meter9"/);
    const gateway = createGateway({ ...spec, remoteRoutes: true });
    await gateway.start();
    await gateway.addRemoteDevice({ id: 'meter9', origin: 'A', via: 'cluster', definition: remoteDriver().definition });
    await gateway.addRemoteDevice({ id: 'free1', origin: 'A', via: 'cluster', definition: remoteDriver().definition });
    expect(ws.state.ctx?.devices().map((d) => d.id).sort()).toEqual(['free1', 'local1', 'meter9']);
    expect(other.state.ctx?.devices().map((d) => d.id)).toEqual(['free1']);
    expect(link.state.ctx?.devices().map((d) => d.id)).toEqual([]);
    expect(await gateway.submit('other', { device: 'meter9', channel: 'x', value: 1 })).toMatchObject({ ok: false, code: ErrorCodes.NOT_ROUTED });
    await gateway.stop({ drainTimeoutMs: 100 });
  });
});
