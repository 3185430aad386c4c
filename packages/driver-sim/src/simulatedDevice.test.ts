import { createGateway, DeviceDescriptionSchema } from '@patchbay/core';
import { FakeHost } from '@patchbay/core/mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
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

  describe('started together', () => {
    afterEach(() => {
      vi.useRealTimers();
      vi.restoreAllMocks();
    });

    it('sim - by default the first drift report comes one interval after start, then one every interval', () => {
      vi.useFakeTimers();
      const ticks: number[] = [];
      const sim = new SimulatedDevice({ interval: 1000, initial: { temperature: 21, humidity: 45, relay: false } }, (channel) => channel === 'temperature' && ticks.push(Date.now()));
      const t0 = Date.now();
      sim.start();
      vi.advanceTimersByTime(2500);
      sim.stop();
      expect(ticks.map((at) => at - t0)).toEqual([0, 1000, 2000]);
    });

    it('sim - a phase given in the options is the time to the first drift report; stop before it means none', () => {
      vi.useFakeTimers();
      const reports: string[] = [];
      const sim = new SimulatedDevice({ interval: 1000, initial: { temperature: 21, humidity: 45, relay: false }, phase: 250 }, (channel) => reports.push(channel));
      sim.start();
      reports.length = 0;
      vi.advanceTimersByTime(249);
      expect(reports).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(reports).toEqual(['temperature', 'humidity']);
      sim.stop();
      const early = new SimulatedDevice({ interval: 1000, initial: { temperature: 21, humidity: 45, relay: false }, phase: 250 }, (channel) => reports.push(channel));
      early.start();
      early.stop();
      reports.length = 0;
      vi.advanceTimersByTime(3000);
      expect(reports).toEqual([]);
    });
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

  it('sim - with spread, devices started together each begin their drift reports at a random point of the first interval', async () => {
    // The first phase drawn is 0 (device a, created first: at once); every later draw is 0.9
    // (devices b and c: 54 minutes in; and a's drift, which moves its temperature).
    vi.spyOn(Math, 'random').mockReturnValueOnce(0).mockReturnValue(0.9);
    const host = new FakeHost();
    const devices = ['a', 'b', 'c'].map((id) => ({ id, definition: simDriver, options: { interval: 3_600_000, spread: true } }));
    const gateway = createGateway({ devices, hosts: [{ id: 'host', definition: host.definition }] });
    await gateway.start();
    try {
      // Device a's phase is 0: its first drift report follows the start report, an hour early.
      const temperatures = (device: string) => host.delivered.filter((e) => e.kind === 'state' && e.device === device && e.channel === 'temperature').length;
      await host.waitFor(() => temperatures('a') === 2 && temperatures('b') === 1 && temperatures('c') === 1);
      expect(temperatures('a')).toBe(2);
    } finally {
      await gateway.stop({ drainTimeoutMs: 100 });
      vi.restoreAllMocks();
    }
    expect(simConfig.parse({ spread: true })).toMatchObject({ spread: true });
    expect(simConfig.safeParse({ spread: 'yes' }).success).toBe(false);
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
