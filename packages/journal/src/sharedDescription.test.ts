import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway, type DescriptionEvent, type DeviceDescriptionInput } from '@patchbay/core';
import { FakeDriver, FakeHost } from '@patchbay/core/mock';
import { afterEach, describe, expect, it } from 'vitest';
import { FileJournal } from './fileJournal.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const deepFreeze = <T>(value: T): T => {
  if (typeof value === 'object' && value !== null) for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
};

const description: DeviceDescriptionInput = {
  name: 'Thermostat « salon »\t"quoted"',
  reportIntervalMs: 1000,
  channels: { temperature: { kind: 'number', unit: '°C', min: -20, max: 50 }, relay: { kind: 'boolean', writable: true } },
  actions: { refresh: {} },
};

/** Two devices described with `describe(id)`, journaled; the description records on disk and the events the host got. */
async function journaled(describe: (id: string) => DeviceDescriptionInput) {
  const d = mkdtempSync(join(tmpdir(), 'journal-shared-'));
  dirs.push(d);
  const drivers = { a: new FakeDriver(), b: new FakeDriver() };
  const host = new FakeHost();
  const journal = new FileJournal({ dir: d, fsync: 'never' });
  const gateway = createGateway({
    devices: Object.entries(drivers).map(([id, driver]) => ({ id, definition: driver.definition })),
    hosts: [{ id: 'host', definition: host.definition }],
    journal,
  });
  await gateway.start();
  await host.waitStarted();
  for (const [id, driver] of Object.entries(drivers)) {
    await driver.waitRunning();
    driver.ctx?.describe(describe(id));
  }
  await host.waitFor(() => host.delivered.filter((e) => e.kind === 'description').length === 2);
  await gateway.stop({ drainTimeoutMs: 100 });
  const lines = readdirSync(d)
    .filter((name) => name.startsWith('segment-'))
    .flatMap((name) => readFileSync(join(d, name), 'utf8').split('\n'))
    .filter((line) => line.startsWith('e\t') && line.includes('"kind":"description"'));
  const events = host.delivered.filter((e): e is DescriptionEvent => e.kind === 'description');
  // Read back with every check recovery makes (checksum, event schema): nothing skipped.
  const reopened = new FileJournal({ dir: d, fsync: 'never' });
  const { corrupt } = await reopened.open({ states: () => [] });
  await reopened.close();
  return { lines, events, corrupt };
}

describe('journal - descriptions shared between devices', () => {
  it('journal - a description two devices share is written as JSON.stringify writes each event, byte for byte, and read back clean', async () => {
    const shared = deepFreeze(structuredClone(description));
    const { lines, events, corrupt } = await journaled(() => shared);
    expect(events).toHaveLength(2);
    // Its JSON was made once: the events hold the one shared object.
    expect(events[0]?.description).toBe(events[1]?.description);
    expect(lines.map((line) => line.split('\t')[2])).toEqual(events.map((e) => JSON.stringify(e)));
    expect(corrupt).toEqual([]);
  });

  it('journal - descriptions not shared are written as before', async () => {
    const { lines, events } = await journaled((id) => ({ ...description, name: `Thermostat ${id}` }));
    expect(events[0]?.description).not.toBe(events[1]?.description);
    expect(lines.map((line) => line.split('\t')[2])).toEqual(events.map((e) => JSON.stringify(e)));
  });
});
