import { ErrorCodes, type ReplyEvent } from '@patchbay/core';
import { FakeDriver, Mosquitto } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { clusterName, eventsOf, startMember } from './rig.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

describe('cluster - broker restart', () => {
  it('cluster broker restart - while commands and states flow: every command gets exactly one reply, none runs twice, states and momentary events are neither lost nor duplicated (19.4, 19.5, 19.6)', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.close());
    const cluster = clusterName();
    const driver = new FakeDriver();
    driver.answer = (command) => new Promise((resolve) => setTimeout(() => resolve({ ok: true, value: command.value ?? null }), 10));
    const a = await startMember({ url: broker.url, cluster, name: 'A', fake: { driver, ids: ['dev1'] }, commandTimeoutMs: 4000 });
    cleanups.push(() => a.stop());
    const b = await startMember({ url: broker.url, cluster, name: 'B', commandTimeoutMs: 4000 });
    cleanups.push(() => b.stop());
    await driver.waitRunning();
    driver.emit('counter', 0);
    await b.host.waitFor((e) => e.kind === 'availability' && e.device === 'dev1' && e.availability === 'online', { timeoutMs: 10_000, what: 'dev1 online on B' });
    driver.ctx?.momentary('button', 'before');
    await b.host.waitFor((e) => e.kind === 'momentary' && e.device === 'dev1', { timeoutMs: 10_000, what: 'the first press on B' });

    const replies: Promise<ReplyEvent>[] = [];
    const submitted: number[] = [];
    let stop = false;
    cleanups.push(() => void (stop = true));
    const flow = (async () => {
      for (let i = 1; !stop; i++) {
        submitted.push(i);
        replies.push(b.host.submit({ device: 'dev1', channel: 'level', value: i }, { deliverReply: true }));
        driver.emit('counter', i);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await broker.down();
    // While the broker is away: a press and a state on A, held by A's outbox.
    driver.ctx?.momentary('button', 'during');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await broker.up();
    await b.host.waitFor((e) => e.kind === 'momentary' && e.device === 'dev1' && e.value === 'during', { timeoutMs: 15_000, what: 'the press made during the outage, on B' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    stop = true;
    await flow;
    const last = submitted[submitted.length - 1] as number;
    const settled = await Promise.all(replies);

    // One reply each, every one ok or a coded failure, and each in B's host outbox once.
    expect(settled).toHaveLength(submitted.length);
    for (const reply of settled) if (!reply.ok) expect(Object.values(ErrorCodes)).toContain(reply.code);
    for (const reply of settled) await b.host.waitFor((e) => e.kind === 'reply' && e.commandId === reply.commandId, { what: `reply ${reply.commandId} delivered` });
    const delivered = b.host.delivered.filter((e) => e.kind === 'reply');
    expect(new Set(delivered.map((e) => (e as ReplyEvent).commandId)).size).toBe(delivered.length);
    // A carried out no command twice, and every ok reply stands for a command A carried out.
    const ran = driver.commands.map((c) => c.value as number);
    expect(new Set(ran).size).toBe(ran.length);
    for (const reply of settled) if (reply.ok) expect(ran).toContain(reply.value);
    // Commands flowed before and after the restart.
    expect(settled[0]?.ok).toBe(true);
    expect(settled[settled.length - 1]?.ok).toBe(true);

    // The latest state got through, and the presses came once each (B resubscribed: the retained copy is not news).
    await b.host.waitFor((e) => e.kind === 'state' && e.device === 'dev1' && e.channel === 'counter' && e.value === last, { timeoutMs: 10_000, what: 'the last counter on B' });
    expect(eventsOf(b.host, 'momentary', 'dev1').map((e) => e.value)).toEqual(['before', 'during']);
  });
});
