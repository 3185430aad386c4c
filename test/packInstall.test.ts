/**
 * Issue 12.7, acceptance 4: a third party can write an adapter outside the repository.
 * `@patchbay/core`, `@patchbay/driver-sim` and `@patchbay/testing` are packed with `npm pack`
 * and installed into a fresh project in a temporary directory; the adapter in
 * test/fixtures/third-party-adapter (written as the README says) compiles with tsc, runs the
 * conformance suite, and a gateway loads it by package name and bridges the sim into it.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, Signal, spawnPatchbay, tempDir } from '@patchbay/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

const run = promisify(execFile);
const dir = tempDir('patchbay-third-party-');
afterAll(() => dir.remove());

async function sh(command: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run(command, args, { cwd, env: { ...process.env, npm_config_update_notifier: 'false' }, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} in ${cwd} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

describe('a third-party adapter from packed packages (12.7)', () => {
  it('pack - core, driver-sim and testing install from their tarballs into a project outside the workspace; its adapter compiles, passes the conformance suite, and a gateway loads it by name', { timeout: 300_000 }, async () => {
    const tarballs = join(dir.path, 'tarballs');
    mkdirSync(tarballs);
    // prepack builds each package's dist first, as a publish would.
    await sh('npm', ['pack', '--pack-destination', tarballs, '-w', '@patchbay/core', '-w', '@patchbay/driver-sim', '-w', '@patchbay/testing'], repoRoot);
    const packed = readdirSync(tarballs).sort();
    expect(packed).toEqual(['patchbay-core-0.1.0.tgz', 'patchbay-driver-sim-0.1.0.tgz', 'patchbay-testing-0.1.0.tgz']);

    const project = join(dir.path, 'my-patchbay-adapter');
    cpSync(join(repoRoot, 'test/fixtures/third-party-adapter'), project, { recursive: true });
    // Everything else from the registry (or npm's cache, which the repository's own install filled).
    await sh(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', ...packed.map((t) => join(tarballs, t)), 'zod@^4.1.0', 'vitest@^4.1.0', 'typescript@~5.9', '@types/node@^20'],
      project,
    );
    await sh('npx', ['tsc', '-p', 'tsconfig.json'], project);
    // A failing test would make vitest exit non-zero, and sh() throw.
    const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
    const tested = (await sh('npx', ['vitest', 'run', '--reporter=verbose'], project)).replace(ansi, '');
    expect(tested).toMatch(/tcp-lines - host adapter conformance/);
    expect(tested).toMatch(/Tests\s+6 passed \(6\)/);

    // A user's installation: the adapter installed as a package, named by its package name.
    const site = join(dir.path, 'site');
    mkdirSync(join(site, 'node_modules'), { recursive: true });
    symlinkSync(project, join(site, 'node_modules', 'my-patchbay-adapter'));
    const config = join(site, 'patchbay.yaml');
    writeFileSync(
      config,
      stringify({
        gateway: { dataDir: join(site, 'data'), http: { enabled: false } },
        log: { format: 'json' },
        devices: [{ id: 'thermo1', driver: 'sim', options: { interval: 100 } }],
        hosts: [{ id: 'lines', adapter: 'my-patchbay-adapter', options: { port: 0 } }],
      }),
    );
    const check = spawnPatchbay(['check', config], { cwd: site });
    expect(await check.exited, check.stderr()).toBe(0);
    const gateway = spawnPatchbay(['run', '--config', config], { cwd: site });
    try {
      const listening = await gateway.waitForLog((l) => typeof l.msg === 'string' && /^tcp-lines listening on/.test(l.msg), { timeoutMs: 30_000, what: 'the adapter listening' });
      const port = Number(/:(\d+)$/.exec(String(listening.msg))?.[1]);
      const changed = new Signal();
      const lines: Record<string, unknown>[] = [];
      const socket = connect(port, '127.0.0.1');
      let buffered = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => {
        buffered += chunk;
        for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
          lines.push(JSON.parse(buffered.slice(0, end)) as Record<string, unknown>);
          buffered = buffered.slice(end + 1);
        }
        changed.notify();
      });
      await changed.waitUntil(() => lines.find((l) => l.kind === 'state' && l.device === 'thermo1' && l.channel === 'temperature'), { what: 'sim state through the adapter', timeoutMs: 15_000 });
      socket.write(`${JSON.stringify({ id: 'x1', device: 'thermo1', channel: 'relay', value: true })}\n`);
      expect(await changed.waitUntil(() => lines.find((l) => l.type === 'reply' && l.id === 'x1'), { what: 'the reply', timeoutMs: 15_000 })).toMatchObject({ ok: true });
      socket.destroy();
    } finally {
      expect(await gateway.stop()).toBe(0);
    }
  });
});
