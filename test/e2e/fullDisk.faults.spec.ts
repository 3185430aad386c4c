/**
 * Issue 13, the fault suite's full disk: the data directory is a small tmpfs that fills while
 * Jeedom commands pour in with the callback down (every reply has to wait in the journal). The
 * journal degrades and refuses what it cannot keep; then `kill -9`. After the restart, with
 * room again, every command the journal holds (accepted, its `k` record on disk) gets exactly
 * one reply, and no command gets two.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statfsSync, writeSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, JeedomCallback, spawnPatchbay, tempDir, type PatchbayProcess } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

const apikey = 'full-disk-apikey-0123456789';
const COMMANDS = 2500;

function jeedomCommand(port: number, id: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(JSON.stringify({ apikey, action: 'command', device: 'thermo1', channel: 'relay', value: id.endsWith('1'), id })));
    // Accepted (journaled) or refused, the socket closes; a refused connection is a refusal too.
    socket.on('close', () => resolve());
    socket.on('error', () => undefined);
  });
}

/** Command ids of the complete, checksummed `k` records (replies owed) in the journal's segments. */
function owedInJournal(journalDir: string): Set<string> {
  const ids = new Set<string>();
  for (const file of readdirSync(journalDir).filter((f) => f.endsWith('.v2.log'))) {
    for (const line of readFileSync(join(journalDir, file), 'utf8').split('\n')) {
      if (!line.startsWith('k\t') || !/\t[0-9a-f]{8}$/.test(line)) continue;
      const ref = /"ref":"(c\d+)"/.exec(line)?.[1];
      if (ref) ids.add(ref);
    }
  }
  return ids;
}

describe('a full disk (13.2, fault suite)', () => {
  it('faults - a data directory that fills up: commands it cannot journal are refused, and across a kill -9 every accepted command gets exactly one reply', async () => {
    const dir = tempDir('patchbay-full-disk-');
    cleanups.push(dir.remove);
    const dataDir = join(dir.path, 'data');
    mkdirSync(dataDir);
    // A 4 MiB tmpfs: it cannot grow, whatever is written to it.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', dataDir]);
    cleanups.push(() => void execFileSync('umount', ['-l', dataDir]));
    // Leave 512 KiB: the journal's 256 KiB reserve and room to start, not for 2,500 owed replies.
    const { bavail, bsize } = statfsSync(dataDir);
    const filler = join(dataDir, 'filler');
    const fd = openSync(filler, 'w');
    const block = Buffer.alloc(64 * 1024, 0x61);
    for (let left = bavail * bsize - 512 * 1024; left > 0; left -= block.length) writeSync(fd, block, 0, Math.min(block.length, left));
    closeSync(fd);

    const [socketPort, callbackPort] = [await freePort(), await freePort()];
    const configPath = join(dir.path, 'patchbay.yaml');
    writeFileSync(
      configPath,
      stringify({
        gateway: { dataDir, http: { enabled: false }, commandTimeoutMs: 3000, drainTimeoutMs: 500, journal: { fsync: 'batch' }, outbox: { maxPendingReplies: 100_000 } },
        log: { level: 'info', format: 'json' },
        devices: [{ id: 'thermo1', driver: 'sim', options: { interval: 600_000 } }],
        hosts: [{ id: 'jeedom', adapter: 'jeedom', options: { socketPort, apikey, callback: `http://127.0.0.1:${callbackPort}/plugins/patchbay/core/php/jeePatchbay.php`, cycle: 0 } }],
      }),
    );
    let gateway: PatchbayProcess = spawnPatchbay(['run', '--config', configPath]);
    cleanups.push(() => gateway.stop());
    await gateway.waitStarted(30_000);
    for (let i = 1; i <= COMMANDS; i++) await jeedomCommand(socketPort, `c${i}`);
    const degraded = await gateway.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('journal cannot write to'), { timeoutMs: 30_000, what: 'the journal degrading' });
    expect(degraded).toMatchObject({ code: 'PB213_JOURNAL_UNAVAILABLE' });
    // A line per episode, not per refused command (an episode can end when the journal gives up
    // its reserve for what is owed, and a second begin as the commands keep coming).
    const episodes = gateway.lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('journal cannot write to')).length;
    expect(episodes).toBeGreaterThanOrEqual(1);
    expect(episodes).toBeLessThanOrEqual(3);
    gateway.child.kill('SIGKILL');
    await gateway.exited;

    const accepted = owedInJournal(join(dataDir, 'journal'));
    expect(accepted.size, 'commands the journal holds').toBeGreaterThan(0);
    expect(accepted.size, 'commands the journal holds').toBeLessThan(COMMANDS);
    // Room again, and the platform back.
    rmSync(filler);
    const callback = await JeedomCallback.start({ port: callbackPort, apikey, dir: dir.path });
    cleanups.push(() => callback.stop());
    gateway = spawnPatchbay(['run', '--config', configPath]);
    await gateway.waitStarted(30_000);
    const replies = await callback.changed.waitUntil(() => {
      const seen = callback.replies();
      return [...accepted].every((id) => seen.has(id)) ? seen : undefined;
    }, { what: `a reply to each of the ${accepted.size} accepted commands`, timeoutMs: 60_000 });
    const twice = [...replies.entries()].filter(([, list]) => list.length > 1).map(([id]) => id);
    expect(twice, `commands answered twice, of ${accepted.size} accepted`).toEqual([]);
    expect(await gateway.stop()).toBe(0);
  });
});
