import { join } from 'node:path';
import { createGateway, defineDriver, type CommandEvent, type DriverContext } from '@patchbay/core';
import { captureLogger, Signal, tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import tracimAdapter from '../src/index.js';
import { sendOnce } from '../src/internal.js';
import { rawListener } from './helpers.js';

interface Tlm {
  event_id: number;
  event_type: string;
  created: string;
  fields: Record<string, unknown>;
}

const description = {
  name: 'Thermostat',
  manufacturer: 'Patchbay',
  channels: {
    temperature: { kind: 'number', name: 'Temperature', unit: '°C', class: 'temperature', stateClass: 'measurement' },
    relay: { kind: 'boolean', name: 'Relay', class: 'switch', writable: true },
    button: { kind: 'event', name: 'Button', class: 'button' },
  },
} as const;

/** A driver that describes itself, records the commands it is asked, and is driven by the test. */
function describedDriver() {
  const state: { ctx?: DriverContext; commands: CommandEvent[]; changed: Signal } = { commands: [], changed: new Signal() };
  const definition = defineDriver({
    type: 'described',
    config: z.object({}),
    create: (_c, ctx) => ({
      start: () => {
        ctx.describe(description);
        state.ctx = ctx;
        state.changed.notify();
      },
      stop: () => undefined,
      send: (command) => {
        state.commands.push(command);
        return { ok: true, value: command.value ?? null };
      },
    }),
  });
  return { definition, state };
}

describe('tracim - described devices (15.6): kind and unit in state TLMs, description, momentary and availability TLMs', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void> | void)();
  });

  async function rig() {
    const dir = tempDir('pb-tracim-described-');
    cleanups.push(() => dir.remove());
    const master = join(dir.path, 'master.sock');
    const client = join(dir.path, 'client.sock');
    const driver = describedDriver();
    const gateway = createGateway({ devices: [{ id: 'thermo', definition: driver.definition }], hosts: [{ id: 'tracim', definition: tracimAdapter, options: { socketPath: master } }], logger: captureLogger() });
    cleanups.push(() => gateway.stop({ drainTimeoutMs: 100 }));
    await gateway.start();
    await driver.state.changed.waitUntil(() => driver.state.ctx, { what: 'the driver', timeoutMs: 5000 });
    const listener = await rawListener(client);
    cleanups.push(() => listener.close());
    const envelopes = () => listener.messages.map((b) => JSON.parse(b.toString()) as { type: string; data?: unknown });
    const tlms = () => envelopes().filter((e) => e.type === 'daemon_tracim_event').map((e) => JSON.parse(e.data as string) as Tlm);
    const waitTlms = (accept: (t: Tlm[]) => boolean, what: string) => listener.changed.waitUntil(() => (accept(tlms()) ? true : undefined), { what, timeoutMs: 10_000 });
    const send = (type: string, data: unknown) => sendOnce(master, Buffer.from(JSON.stringify({ path: client, type, data })), 2000);
    return { driver, ctx: () => driver.state.ctx as DriverContext, envelopes, tlms, waitTlms, send, listener };
  }

  it('tracim - a registering client gets the description first, then state TLMs carrying kind and unit', async () => {
    const r = await rig();
    r.ctx().emit('temperature', 21.5);
    r.ctx().emit('relay', false);
    await r.send('daemon_client_add', { pid: '1' });
    await r.waitTlms((t) => t.length >= 3, 'the snapshot');
    const [first, ...rest] = r.tlms();
    expect(first).toMatchObject({ event_type: 'device.modified.description', fields: { author: null, client_token: null, device: 'thermo', description: { name: 'Thermostat', channels: { temperature: { unit: '°C', kind: 'number' } } } } });
    expect(rest.map((t) => [t.event_type, t.fields])).toEqual([
      ['device.modified.state', { author: null, client_token: null, device: 'thermo', channel: 'temperature', value: 21.5, kind: 'number', unit: '°C' }],
      ['device.modified.state', { author: null, client_token: null, device: 'thermo', channel: 'relay', value: false, kind: 'boolean' }],
    ]);
  });

  it('tracim - a changed description goes out as a description TLM; presses are momentary TLMs, every one in order; availability has its own TLM', async () => {
    const r = await rig();
    await r.send('daemon_client_add', { pid: '1' });
    await r.listener.changed.waitUntil(() => (r.envelopes().some((e) => e.type === 'daemon_account_info') ? true : undefined), { what: 'registration', timeoutMs: 5000 });
    r.ctx().describe({ ...description, channels: { ...description.channels, temperature: { ...description.channels.temperature, unit: '°F' } } });
    for (let i = 1; i <= 5; i++) r.ctx().momentary('button', `press${i}`);
    r.ctx().availability('offline', 'unplugged');
    await r.waitTlms((t) => t.some((x) => x.event_type === 'device.modified.availability'), 'the availability TLM');
    const live = r.tlms();
    // The registration's snapshot had the first description; the change follows.
    expect(live.filter((t) => t.event_type === 'device.modified.description').map((t) => (t.fields.description as typeof description).channels.temperature.unit)).toEqual(['°C', '°F']);
    expect(live.findLast((t) => t.event_type === 'device.modified.description')?.fields).toMatchObject({ device: 'thermo', description: { channels: { temperature: { unit: '°F' } } } });
    expect(live.filter((t) => t.event_type === 'device.created.event').map((t) => t.fields)).toEqual(
      [1, 2, 3, 4, 5].map((i) => ({ author: null, client_token: null, device: 'thermo', channel: 'button', value: `press${i}`, kind: 'event' })),
    );
    expect(live.find((t) => t.event_type === 'device.modified.availability')?.fields).toMatchObject({ device: 'thermo', availability: 'offline', reason: 'unplugged' });
    const ids = live.map((t) => t.event_id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it('tracim - a patchbay_command to a read-only channel gets the core\'s coded refusal (PB211) and the driver is never asked; "1" reaches a boolean as true', async () => {
    const r = await rig();
    await r.send('patchbay_command', { id: 'w1', device: 'thermo', channel: 'temperature', value: 30 });
    await r.send('patchbay_command', { id: 'w2', device: 'thermo', channel: 'relay', value: '1' });
    const replies = () => r.envelopes().filter((e) => e.type === 'patchbay_reply').map((e) => e.data as Record<string, unknown>);
    await r.listener.changed.waitUntil(() => (replies().length >= 2 ? true : undefined), { what: 'two replies', timeoutMs: 10_000 });
    expect(replies().find((x) => x.id === 'w1')).toEqual({ id: 'w1', ok: false, error: expect.stringMatching(/read-only|not writable/i), code: 'PB211_READ_ONLY' });
    expect(replies().find((x) => x.id === 'w2')).toEqual({ id: 'w2', ok: true, value: true });
    expect(r.driver.state.commands.map((c) => [c.channel, c.value])).toEqual([['relay', true]]);
  });
});
