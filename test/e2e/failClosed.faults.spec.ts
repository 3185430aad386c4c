/**
 * Issue 13, the fault suite's items on the real `patchbay` process: a hung host is reported
 * stalled in time, and a journal
 * corrupted while the gateway was down loses only the corrupt record, says where it was, and
 * every accepted command still gets exactly one reply.
 */
import { readdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, JeedomCallback, Signal, spawnPatchbay, tempDir, type PatchbayProcess } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import WebSocket from 'ws';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

const apikey = 'journal-faults-apikey-0123456789';
const COMMANDS = 30;

function jeedomCommand(port: number, id: string, value: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(JSON.stringify({ apikey, action: 'command', device: 'thermo1', channel: 'relay', value, id })));
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

/** Waits, on file-system events in `dir`, until `check` returns a value. */
async function watchUntil<T>(dir: string, check: () => T | undefined, { what, timeoutMs = 30_000 }: { what: string; timeoutMs?: number }): Promise<T> {
  const changed = new Signal();
  const watcher = watch(dir, { recursive: true }, () => changed.notify());
  try {
    return await changed.waitUntil(check, { what, timeoutMs });
  } finally {
    watcher.close();
  }
}

describe('a hung host (13.4, fault suite)', () => {
  it('faults - a Jeedom callback that accepts and never answers: the host is stalled in /healthz within stallTimeoutMs plus one second of its first request, logged once; other hosts keep being served', async () => {
    const dir = tempDir('patchbay-stall-faults-');
    cleanups.push(dir.remove);
    const [httpPort, socketPort, callbackPort] = [await freePort(), await freePort(), await freePort()];
    const callback = await JeedomCallback.start({ port: callbackPort, apikey, dir: dir.path });
    cleanups.push(() => callback.stop());
    const stallTimeoutMs = 1500;
    const configPath = join(dir.path, 'patchbay.yaml');
    writeFileSync(
      configPath,
      stringify({
        gateway: { dataDir: join(dir.path, 'data'), http: { host: '127.0.0.1', port: httpPort }, stallTimeoutMs, drainTimeoutMs: 300 },
        log: { level: 'info', format: 'json' },
        devices: [{ id: 'thermo1', driver: 'sim', options: { interval: 100 } }],
        hosts: [
          { id: 'jeedom', adapter: 'jeedom', options: { socketPort, apikey, callback: `http://127.0.0.1:${callbackPort}/plugins/patchbay/core/php/jeePatchbay.php`, cycle: 0 } },
          { id: 'ws', adapter: 'ws', options: {} },
        ],
      }),
    );
    const gateway = spawnPatchbay(['run', '--config', configPath]);
    cleanups.push(() => gateway.stop());
    await gateway.waitStarted(30_000);
    const posts = () => callback.records().filter((r) => r.method === 'POST');
    await callback.changed.waitUntil(() => (posts().length > 0 ? true : undefined), { what: 'a first delivery', timeoutMs: 30_000 });
    // From now on the callback accepts and holds every request for a minute (php -S serves one at a time).
    const before = posts().length;
    callback.control({ delayMs: 60_000 });
    const firstRequest = await callback.changed.waitUntil(() => {
      const record = posts()[before];
      return record === undefined ? undefined : record.time * 1000;
    }, { what: 'the hung callback request', timeoutMs: 30_000 });
    const stalled = await gateway.waitForLog((l) => typeof l.msg === 'string' && /host jeedom is stalled/.test(l.msg), { timeoutMs: 20_000, what: 'the stall warning' });
    // Both times are the machine's clock, read by the peer and by the gateway itself.
    expect((stalled.time as number) - firstRequest).toBeLessThanOrEqual(stallTimeoutMs + 1000);
    const health = (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as { status: string; hosts: { id: string; stalled?: boolean; delivered: number }[] };
    expect(health.status).toBe('degraded');
    expect(health.hosts.find((h) => h.id === 'jeedom')).toMatchObject({ stalled: true });
    // The other host keeps being served: a ws client that connects now gets live state.
    const socket = new WebSocket(`ws://127.0.0.1:${httpPort}/ws`);
    cleanups.push(() => socket.close());
    await new Promise<void>((resolve, reject) => {
      socket.on('error', reject);
      socket.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string; device?: string };
        if (message.type === 'state' && message.device === 'thermo1') resolve();
      });
    });
    expect(gateway.lines.filter((l) => typeof l.msg === 'string' && /host jeedom is stalled/.test(l.msg))).toHaveLength(1);
  });
});

describe('journal faults (13.1, fault suite)', () => {
  it('faults - a reply record, the head record and a cursor record flipped while the gateway was down: only they are lost, its segment and offset are logged and in /healthz, and every accepted command still gets exactly one reply', async () => {
    const dir = tempDir('patchbay-journal-faults-');
    cleanups.push(dir.remove);
    const [httpPort, socketPort, callbackPort] = [await freePort(), await freePort(), await freePort()];
    const dataDir = join(dir.path, 'data');
    const configPath = join(dir.path, 'patchbay.yaml');
    writeFileSync(
      configPath,
      stringify({
        gateway: { dataDir, http: { host: '127.0.0.1', port: httpPort }, commandTimeoutMs: 3000, drainTimeoutMs: 500, journal: { fsync: 'batch' } },
        log: { level: 'info', format: 'json' },
        // Reports far apart: the journal holds the commands' replies and little else.
        devices: [{ id: 'thermo1', driver: 'sim', options: { interval: 600_000 } }],
        hosts: [
          { id: 'jeedom', adapter: 'jeedom', options: { socketPort, apikey, callback: `http://127.0.0.1:${callbackPort}/plugins/patchbay/core/php/jeePatchbay.php`, cycle: 0 } },
          // A host that takes everything: its delivered-up-to cursor is in the journal.
          { id: 'ws', adapter: 'ws', options: {} },
        ],
      }),
    );
    // The callback is down: every reply waits, journaled, in the host's outbox.
    let gateway: PatchbayProcess = spawnPatchbay(['run', '--config', configPath]);
    cleanups.push(() => gateway.stop());
    await gateway.waitStarted(30_000);
    for (let i = 1; i <= COMMANDS; i++) await jeedomCommand(socketPort, `c${i}`, i % 2 === 1);
    const journalDir = join(dataDir, 'journal');
    const segmentFile = () => readdirSync(journalDir).filter((f) => f.endsWith('.v2.log')).sort().at(-1);
    const replyLines = () => {
      const file = segmentFile();
      if (!file) return undefined;
      const bytes = readFileSync(join(journalDir, file));
      const lines = bytes.toString('utf8').split('\n').filter((l) => l.startsWith('e\t') && l.includes('"kind":"reply"'));
      return lines.length >= COMMANDS ? { file, bytes } : undefined;
    };
    const { file } = await watchUntil(journalDir, replyLines, { what: `${COMMANDS} replies journaled` });
    gateway.child.kill('SIGKILL');
    await gateway.exited;

    // One flipped byte in the body of the tenth reply: valid UTF-8, a checksum that no longer holds.
    const path = join(journalDir, file);
    const bytes = readFileSync(path);
    let offset = -1;
    for (let seen = 0, at = 0; at < bytes.length; at = bytes.indexOf(0x0a, at) + 1) {
      const end = bytes.indexOf(0x0a, at);
      const line = bytes.subarray(at, end).toString('utf8');
      if (line.startsWith('e\t') && line.includes('"kind":"reply"') && ++seen === 10) {
        offset = at;
        const ok = bytes.indexOf('"ok":', at);
        bytes[ok + 1] = 'O'.charCodeAt(0);
        break;
      }
    }
    expect(offset).toBeGreaterThan(0);
    // A non-digit in the segment's head record (its last sequence number), and a flipped digit
    // in the last cursor record of the ws host.
    const lineAt = (prefix: string, last = false): number => {
      let found = -1;
      for (let at = 0; at < bytes.length; at = bytes.indexOf(0x0a, at) + 1) {
        if (bytes.subarray(at, at + prefix.length).toString('latin1') === prefix) {
          found = at;
          if (!last) break;
        }
        if (bytes.indexOf(0x0a, at) < 0) break;
      }
      return found;
    };
    const head = lineAt('n\t');
    const cursor = lineAt('c\t', true);
    expect(head).toBeGreaterThanOrEqual(0);
    expect(cursor).toBeGreaterThan(head);
    bytes[head + 2] = 'x'.charCodeAt(0);
    bytes[cursor + 2] = bytes[cursor + 2] === 0x39 ? 0x38 : (bytes[cursor + 2] as number) + 1;
    writeFileSync(path, bytes);

    const callback = await JeedomCallback.start({ port: callbackPort, apikey, dir: dir.path });
    cleanups.push(() => callback.stop());
    gateway = spawnPatchbay(['run', '--config', configPath]);
    await gateway.waitStarted(30_000);
    const warning = await gateway.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes(`${file} at byte ${offset}`), { timeoutMs: 15_000, what: 'the corrupt reply record warning' });
    expect(warning).toMatchObject({ code: 'PB501_JOURNAL_CORRUPT' });
    const warned = gateway.lines.filter((l) => l.code === 'PB501_JOURNAL_CORRUPT').map((l) => String(l.msg));
    expect(warned.some((m) => m.includes(`${file} at byte ${head} `))).toBe(true);
    expect(warned.some((m) => m.includes(`${file} at byte ${cursor} `))).toBe(true);

    // Every command: one reply. The one whose reply record was lost is still owed one, so it
    // gets the restart reply (PB210) instead of nothing.
    const replies = await callback.changed.waitUntil(() => {
      const seen = callback.replies();
      return seen.size >= COMMANDS ? seen : undefined;
    }, { what: `replies to all ${COMMANDS} commands`, timeoutMs: 30_000 });
    for (let i = 1; i <= COMMANDS; i++) expect(replies.get(`c${i}`), `c${i}`).toHaveLength(1);
    const failed = [...replies.entries()].filter(([, [reply]]) => reply?.ok !== true);
    expect(failed.map(([id]) => id)).toEqual(['c10']);
    const health = (await (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).json()) as { journal?: { corruptRecords: number } };
    expect(health.journal?.corruptRecords).toBe(3);
    expect(await gateway.stop()).toBe(0);
  });
});
