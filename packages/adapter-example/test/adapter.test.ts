import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createGateway } from '@patchbay/core';
import { FakeDriver, tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import exampleAdapter from '../src/index.js';

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

  it('example - (12.4) a command line that is not JSON, lacks a device, or is over 64 KiB gets one refusal each, and the socket keeps serving', async () => {
    const dir = tempDir();
    cleanup.push(dir.remove);
    const commandSocket = join(dir.path, 'c.sock');
    const driver = new FakeDriver();
    const gateway = createGateway({ devices: [{ id: 'd', definition: driver.definition }], hosts: [{ id: 'x', definition: exampleAdapter, options: { file: join(dir.path, 'e.jsonl'), commandSocket } }] });
    await gateway.start();
    await driver.waitRunning();
    /** Writes `text` on one connection and resolves with every answer line once the adapter closed it or `count` arrived. */
    const exchange = (text: string, count: number) =>
      new Promise<Record<string, unknown>[]>((resolve, reject) => {
        const socket = connect(commandSocket);
        let buffered = '';
        const done = () => resolve(buffered.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>));
        socket.setEncoding('utf8').on('data', (chunk: string) => {
          buffered += chunk;
          if (buffered.split('\n').length > count) {
            socket.end();
            done();
          }
        });
        socket.on('end', done).on('error', reject);
        socket.write(text);
      });
    const answers = await exchange('not json\n{"id":"a","channel":"t"}\n{"id":"b","device":"d","channel":"t","value":1}\n', 3);
    expect(answers).toHaveLength(3);
    expect(answers.find((a) => a.error === 'not JSON')).toMatchObject({ ok: false });
    expect(answers.find((a) => a.id === 'a')).toMatchObject({ ok: false, error: expect.stringContaining('device') });
    expect(answers.find((a) => a.id === 'b')).toMatchObject({ ok: true });
    const long = await exchange('x'.repeat(70 * 1024), 1);
    expect(long).toEqual([{ ok: false, error: 'line over 65536 bytes' }]);
    expect(await exchange('{"id":"c","device":"d","channel":"t","value":2}\n', 1)).toMatchObject([{ id: 'c', ok: true }]);
    await gateway.stop();
  });

  it('example - rejects options without a file, naming the path', () => {
    const result = exampleAdapter.config.safeParse({});
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['file']);
  });
});
