import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGateway } from '@patchbay/core';
import { FakeDriver, tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import exampleAdapter from './index.js';

const cleanup: (() => void)[] = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

describe('example adapter', () => {
  it('example - writes the snapshot, then every state event, as JSON lines', async () => {
    const dir = tempDir();
    cleanup.push(dir.remove);
    const file = join(dir.path, 'events.jsonl');
    const driver = new FakeDriver();
    const gateway = createGateway({ devices: [{ id: 'd', definition: driver.definition }], hosts: [{ id: 'x', definition: exampleAdapter, options: { file } }] });
    await gateway.start();
    await driver.waitRunning();
    driver.emit('t', 1);
    await gateway.stop();
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ kind: 'snapshot' });
    expect(lines.some((l) => l.kind === 'state' && l.channel === 't' && l.value === 1)).toBe(true);
  });

  it('example - rejects options without a file, naming the path', () => {
    const result = exampleAdapter.config.safeParse({});
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['file']);
  });
});
