import { createGateway, DeviceDescriptionSchema } from '@patchbay/core';
import { FakeHost } from '@patchbay/core/mock';
import { describe, expect, it } from 'vitest';
import simDriver, { simConfig, simulatedDescription, SimulatedDevice } from './index.js';

function device(random = () => 0.9) {
  const reports: [string, unknown][] = [];
  const sim = new SimulatedDevice({ interval: 1000, initial: { temperature: 21, humidity: 45, relay: false }, random }, (channel, value) => reports.push([channel, value]));
  return { sim, reports };
}

describe('simulated device', () => {
  it('sim - reports every channel on start, then drifts temperature and humidity each tick', () => {
    const { sim, reports } = device();
    sim.reportAll();
    expect(reports).toEqual([
      ['temperature', 21],
      ['humidity', 45],
      ['relay', false],
    ]);
    sim.tick();
    const [temperature, humidity] = reports.slice(3);
    expect(temperature?.[0]).toBe('temperature');
    expect(temperature?.[1]).not.toBe(21);
    expect(humidity?.[0]).toBe('humidity');
  });

  it('sim - the drift stays within the sensor range', () => {
    const { sim } = device(() => 0.999);
    for (let i = 0; i < 10_000; i++) sim.tick();
    expect(sim.values().temperature).toBeLessThanOrEqual(50);
    expect(sim.values().humidity).toBeLessThanOrEqual(100);
  });

  it('sim - a relay command is answered and reported once, only on change', () => {
    const { sim, reports } = device();
    expect(sim.command({ channel: 'relay', value: true })).toEqual({ ok: true, value: true });
    expect(sim.command({ channel: 'relay', value: 'on' })).toEqual({ ok: true, value: true });
    expect(reports).toEqual([['relay', true]]);
    expect(sim.command({ channel: 'relay', value: 0 })).toEqual({ ok: true, value: false });
  });

  it('sim - unknown channels, read-only channels and bad values get a failed reply with the reason', () => {
    const { sim } = device();
    expect(sim.command({ channel: 'fan', value: 1 })).toMatchObject({ ok: false, error: expect.stringContaining('unknown channel "fan"') });
    expect(sim.command({ channel: 'temperature', value: 30 })).toMatchObject({ ok: false, error: expect.stringContaining('read-only') });
    expect(sim.command({ channel: 'relay', value: 'maybe' })).toMatchObject({ ok: false, error: expect.stringContaining('relay takes a boolean') });
    expect(sim.command({ action: 'explode' })).toMatchObject({ ok: false, error: expect.stringContaining('unknown action') });
  });

  it('sim - the refresh action reports every channel again', () => {
    const { sim, reports } = device();
    expect(sim.command({ action: 'refresh' })).toEqual({ ok: true });
    expect(reports.map(([c]) => c)).toEqual(['temperature', 'humidity', 'relay']);
  });

  it('sim - options default to a 1 s interval and reject unknown keys', () => {
    expect(simConfig.parse({})).toEqual({ interval: 1000, initial: { temperature: 21, humidity: 45, relay: false } });
    expect(simConfig.safeParse({ intervall: 5 }).success).toBe(false);
    expect(simDriver.type).toBe('sim');
  });

  it('sim - devices of one interval are described with one frozen description, the one simulatedDescription makes', async () => {
    const host = new FakeHost();
    const devices = [
      { id: 'a', options: { interval: 60_000 } },
      { id: 'b', options: { interval: 60_000 } },
      { id: 'c', options: { interval: 30_000 } },
    ].map((d) => ({ ...d, definition: simDriver }));
    const gateway = createGateway({ devices, hosts: [{ id: 'host', definition: host.definition }] });
    await gateway.start();
    try {
      await host.waitFor(() => host.delivered.filter((e) => e.kind === 'description').length === 3);
      const [a, b, c] = ['a', 'b', 'c'].map((id) => host.ctx?.description(id));
      expect(a).toBe(b);
      expect(c).not.toBe(a);
      expect(Object.isFrozen(a?.channels.temperature)).toBe(true);
      expect(a).toEqual(DeviceDescriptionSchema.parse(simulatedDescription(60_000)));
      expect(c).toEqual(DeviceDescriptionSchema.parse(simulatedDescription(30_000)));
    } finally {
      await gateway.stop({ drainTimeoutMs: 100 });
    }
  });
});
