import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, repoRoot, spawnPatchbay, tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

describe('a host stops the gateway through the host context (12.4)', () => {
  it('run - Comodojo daemon.shutdown from the PHP client: answered, then the gateway drains and exits 0 as on SIGTERM', async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const port = await freePort();
    const config = join(dir.path, 'patchbay.yaml');
    writeFileSync(
      config,
      stringify({
        gateway: { dataDir: join(dir.path, 'data'), http: { enabled: false } },
        log: { format: 'json' },
        devices: [{ id: 'thermo1', driver: 'sim' }],
        hosts: [{ id: 'rpc', adapter: 'comodojo', options: { socket: `tcp://127.0.0.1:${port}`, allowShutdown: true } }],
      }),
    );
    const gateway = spawnPatchbay(['run', '--config', config]);
    cleanups.push(() => gateway.stop());
    await gateway.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('comodojo RPC socket listening'), { timeoutMs: 30_000, what: 'the comodojo socket' });
    const client = spawn('php', [join(repoRoot, 'test/peers/comodojo/client.php'), `tcp://127.0.0.1:${port}`, 'daemon.shutdown', '[]'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let answer = '';
    client.stdout.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    expect(await new Promise((resolve) => client.on('exit', resolve))).toBe(0);
    expect(answer).toMatch(/\b0\b/);
    expect(await gateway.exited).toBe(0);
    expect(gateway.lines.some((l) => l.msg === 'host rpc asked the gateway to stop: daemon.shutdown was called over the Comodojo socket')).toBe(true);
    expect(gateway.lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('patchbay stopped'))).toBe(true);
  });
});
