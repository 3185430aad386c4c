/**
 * Exactly one reply across a kill -9: a reply is on disk before any host is handed it. Found
 * by the fault suite under load, where a Jeedom command got its reply and then, after the
 * restart, a PB210 as well: the reply had reached the host but not yet the journal.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { createGateway, defineAdapter, ErrorCodes, type OutboundEvent } from '@patchbay/core';
import { FileJournal } from '@patchbay/journal';
import { captureLogger, FakeDriver, FakeHost, tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

describe('core durability - replies', () => {
  it('durability - the journal as a kill -9 would leave it at the instant a host is handed a reply already holds that reply: no PB210 after it', async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const live = join(dir.path, 'live');
    const atDelivery = join(dir.path, 'at-delivery');
    const delivered: OutboundEvent[] = [];
    let ask: ((command: { device: string; channel: string; value: boolean; ref: string }) => Promise<unknown>) | undefined;
    // A host that, the moment it is handed the reply, copies the journal files as they are:
    // what a kill -9 right after the hand-over (an HTTP POST already sent) leaves behind.
    const snapshotting = defineAdapter({
      type: 'snapshotting-host',
      description: 'copies the journal when a reply reaches it',
      config: z.object({}).passthrough(),
      create: (_config, ctx) => ({
        start: () => {
          ask = (command) => ctx.submit(command, { deliverReply: true });
        },
        stop: () => undefined,
        deliver: (event) => {
          if (event.kind === 'reply' && delivered.length === 0) cpSync(live, atDelivery, { recursive: true });
          if (event.kind === 'reply') delivered.push(event);
        },
      }),
    });
    const driver = new FakeDriver();
    const first = createGateway({
      devices: [{ id: 'dev', definition: driver.definition }],
      hosts: [{ id: 'asker', definition: snapshotting }],
      journal: new FileJournal({ dir: live, fsync: 'never' }),
      logger: captureLogger(),
    });
    cleanups.push(() => first.stop({ drainTimeoutMs: 200 }));
    await first.start();
    await driver.waitRunning();
    await ask?.({ device: 'dev', channel: 'relay', value: true, ref: 'c1' });
    expect(delivered).toMatchObject([{ kind: 'reply', ref: 'c1', ok: true }]);

    // The gateway that starts on those files owes c1 nothing new: at most the same reply again.
    const asker = new FakeHost();
    const log = captureLogger();
    const second = createGateway({
      devices: [{ id: 'dev', definition: new FakeDriver().definition }],
      hosts: [{ id: 'asker', definition: asker.definition }],
      journal: new FileJournal({ dir: atDelivery, fsync: 'never' }),
      logger: log,
    });
    cleanups.push(() => second.stop({ drainTimeoutMs: 200 }));
    await second.start();
    expect(log.find(/journal recovered/)).toMatchObject([{ fields: { openCommands: 0 } }]);
    expect(asker.delivered.filter((e) => e.kind === 'reply' && e.code === ErrorCodes.GATEWAY_RESTARTED)).toEqual([]);
  });
});
