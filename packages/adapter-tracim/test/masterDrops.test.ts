import { join } from 'node:path';
import { captureLogger, tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { MasterClients } from '../src/modes/masterClients.js';
import { rawListener } from './helpers.js';

describe('tracim - what a full client queue logs', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void> | void)();
  });

  it('tracim - (20) a client far behind: every dropped message is counted, and the log has one line for them, not one each', async () => {
    const dir = tempDir('pb-tracim-drops-');
    cleanups.push(() => dir.remove());
    const recorded = captureLogger();
    let dropped = 0;
    const clients = new MasterClients({
      config: { sendTimeoutMs: 2000, maxQueuedPerClient: 16, coalesceAfter: 1_000_000 },
      logger: recorded.logger,
      counters: { dropped: { inc: (n = 1) => void (dropped += n) }, stalled: { inc: () => undefined } },
      takeEventId: () => 0,
    });
    cleanups.push(() => void clients.close());
    const listener = await rawListener(join(dir.path, 'slow.sock'));
    cleanups.push(() => listener.close());
    const path = listener.server.address() as string;
    clients.register(path, '1');
    // 5,000 messages in one turn to a queue of 16 (none in flight yet: the connection opens on a later turn).
    for (let i = 0; i < 5_000; i++) clients.push(path, { bytes: Buffer.from(`m${i}\n`), type: 'daemon_tracim_event' });
    expect(dropped).toBe(5_000 - 16);
    const lines = recorded.lines.filter((l) => /dropped/.test(l.message));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', message: expect.stringContaining(`message to ${path} dropped: queue full (16 messages): dropped the oldest`) });
    // What was not told yet is told when the queue goes: nothing dropped goes unsaid.
    clients.close();
    const after = recorded.lines.filter((l) => /dropped/.test(l.message));
    expect(after).toHaveLength(2);
    expect(after[1]?.message).toContain(`${5_000 - 17} more dropped`);
  });
});
