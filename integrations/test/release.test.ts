import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { freePort, repoRoot, Signal, tempDir } from '@patchbay/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JeedomBox } from './jeedomBox.js';

const run = promisify(execFile);
const version = (JSON.parse(readFileSync(join(repoRoot, 'apps/gateway/package.json'), 'utf8')) as { version: string }).version;
const name = `patchbay-${version}-${process.platform}-${process.arch}`;

/** `npm run release` once for the file (into a temp dir), then each test unpacks what it needs. */
const out = tempDir('patchbay-release-');
let tarball = '';
beforeAll(async () => {
  await run(process.execPath, [join(repoRoot, 'scripts/release/build.mjs'), '--out', out.path], { cwd: repoRoot, timeout: 240_000 });
  tarball = join(out.path, `${name}.tar.gz`);
}, 300_000);
afterAll(() => out.remove());

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** True when `dir` or one of its parents holds a node_modules (the release must not lean on one). */
function nodeModulesAround(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) return d;
    if (dirname(d) === d) return undefined;
  }
}

describe('release', () => {
  it('release - the tarball and its SHA-256 file; unpacked in an empty dir outside the repo: --version, check, and the embedded default up to /healthz 200', async () => {
    const sum = readFileSync(`${tarball}.sha256`, 'utf8');
    expect(sum).toMatch(new RegExp(`^[0-9a-f]{64}  ${name}\\.tar\\.gz\\n$`));
    const { stdout: check } = await run('sha256sum', ['-c', `${name}.tar.gz.sha256`], { cwd: out.path });
    expect(check).toContain(': OK');

    const dir = tempDir('patchbay-unpacked-');
    cleanups.push(dir.remove);
    expect(readdirSync(dir.path)).toEqual([]);
    expect(dir.path.startsWith(repoRoot)).toBe(false);
    await run('tar', ['-xzf', tarball, '-C', dir.path]);
    const root = join(dir.path, name);
    expect(nodeModulesAround(dirname(root))).toBeUndefined();
    // Only this platform's prebuilt addons: zeromq's and serialport's (no compiler ran).
    const zmqBuild = join(root, 'lib/node_modules/zeromq/build');
    expect(readdirSync(zmqBuild).sort()).toEqual([process.platform, 'manifest.json'].sort());
    expect(readdirSync(join(zmqBuild, process.platform))).toEqual([process.arch]);
    expect(readdirSync(join(root, 'lib/node_modules/@serialport/bindings-cpp/prebuilds')).every((d) => d.startsWith(`${process.platform}-`))).toBe(true);
    // A PATH with node but nothing of the repository (and the cwd outside it).
    const env = { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: dir.path };
    const bin = join(root, 'bin/patchbay');

    expect((await run(bin, ['--version'], { cwd: dir.path, env })).stdout.trim()).toBe(version);

    const good = join(dir.path, 'good.yml');
    writeFileSync(good, 'devices:\n  - { id: t1, driver: sim }\nhosts:\n  - { id: web, adapter: ws, options: { token: "0123456789abcdef0123" } }\n');
    expect((await run(bin, ['check', good], { cwd: dir.path, env })).stdout).toContain('OK');
    const bad = join(dir.path, 'bad.yml');
    writeFileSync(bad, 'devices:\n  - { id: t1, driver: nope }\n');
    const refused = await run(bin, ['check', bad], { cwd: dir.path, env }).then(
      () => undefined,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(refused?.code).toBe(1);
    expect(`${refused?.stdout}${refused?.stderr}`).toContain('devices[0]');

    // The embedded default: every built-in adapter (zeromq and all), on free ports.
    const ports: Record<string, string> = {};
    for (const variable of ['PATCHBAY_JEEDOM_PORT', 'PATCHBAY_COMODOJO_PORT', 'PATCHBAY_DOMOGIK_REQ_REP_PORT', 'PATCHBAY_DOMOGIK_PUB_PORT', 'PATCHBAY_DOMOGIK_SUB_PORT', 'PATCHBAY_MQTT_PORT']) ports[variable] = String(await freePort());
    const child = spawn(bin, ['run', '--port', '0', '--data-dir', join(dir.path, 'data')], { cwd: dir.path, env: { ...env, ...ports, PATCHBAY_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    cleanups.push(async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    });
    const lines: Record<string, unknown>[] = [];
    const changed = new Signal();
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ msg: line });
      }
      changed.notify();
    });
    const started = await changed.waitUntil(() => lines.find((l) => typeof l.msg === 'string' && / started$/.test(l.msg) && 'http' in l), { what: 'the start-up line', timeoutMs: 30_000 });
    // Each host's latest status line: the embedded Domogik bus may report a first delivery failing, then alive again.
    const alive = (host: string) => [...lines].reverse().find((l) => l.host === host && typeof l.status === 'string')?.status === 'alive';
    await changed.waitUntil(() => (['jeedom', 'domogik', 'comodojo', 'tracim', 'ws'].every(alive) ? true : undefined), { what: 'every built-in host alive', timeoutMs: 30_000 });
    // /healthz is the readiness probe (no event says "healthy"): asked until it answers 200, as a supervisor would.
    let health = await fetch(`${String(started.http)}/healthz`);
    for (let attempt = 0; health.status !== 200 && attempt < 300; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      health = await fetch(`${String(started.http)}/healthz`);
    }
    expect(health.status).toBe(200);
    const body = (await health.json()) as { status: string; hosts: { id: string; status: string }[] };
    expect(body.status).toBe('ok');
    expect(body.hosts.map((h) => h.id).sort()).toEqual(['comodojo', 'domogik', 'jeedom', 'mqtt', 'tracim', 'ws']);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('release - the Jeedom plugin\'s dependency install checks the checksum and unpacks it; its daemon then runs from the release', async () => {
    const box = await JeedomBox.start({ config: { devices: JSON.stringify([{ id: 'thermo1', driver: 'sim', options: { interval: 200 } }]) } });
    cleanups.push(() => box.close());
    const dist = join(box.plugin, 'resources/dist');
    mkdirSync(dist);
    copyFileSync(tarball, join(dist, `${name}.tar.gz`));
    copyFileSync(`${tarball}.sha256`, join(dist, `${name}.tar.gz.sha256`));
    expect((await box.php('return patchbay::dependancy_info()["state"];')).result).toBe('nok');

    // As the core runs it: `#stype#` replaced by the package system, through bash, logged.
    const install = async () => {
      const { result } = await box.php('return patchbay::dependancy_install();');
      const { script, log } = result as { script: string; log: string };
      return run('/bin/bash', ['-c', `/bin/bash ${script.replace('#stype#', 'apt')} >> ${log} 2>&1`]).then(
        () => 0,
        (error: { code: number }) => error.code,
      );
    };
    expect(await install()).toBe(0);
    expect(box.log('patchbay_update')).toMatch(/Checksum OK: [0-9a-f]{64}/);
    expect(box.log('patchbay_update')).toContain(`Patchbay ${version} installed`);
    expect(existsSync(join(box.root, 'tmp/patchbay/dependance'))).toBe(false);
    expect((await box.php('return patchbay::dependancy_info()["state"];')).result).toBe('ok');
    expect((await run(join(box.plugin, 'resources/patchbay/bin/patchbay'), ['--version'])).stdout.trim()).toBe(version);

    // A corrupted tarball is refused, and the release already installed stays.
    const corrupt = readFileSync(join(dist, `${name}.tar.gz`));
    const middle = corrupt.length >> 1;
    corrupt.writeUInt8((corrupt.readUInt8(middle) ^ 0xff) & 0xff, middle);
    writeFileSync(join(dist, `${name}.tar.gz`), corrupt);
    expect(await install()).toBe(1);
    expect(box.log('patchbay_update')).toMatch(/ERROR: checksum mismatch/);
    expect((await box.php('return patchbay::dependancy_info()["state"];')).result).toBe('ok');

    // The daemon from the installed release (no build, no repository): start, a value, stop with exit 0.
    const started = await box.php('return patchbay::deamon_start();');
    expect(started.result, box.log('patchbay_daemon')).toBe(true);
    const pid = Number(readFileSync(join(box.root, 'tmp/patchbay/deamon.pid'), 'utf8'));
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain(join(box.plugin, 'resources/patchbay/lib/node_modules/@patchbay/gateway/dist/cli.js'));
    await box.waitFor(() => /Listening on/.test(box.log('patchbay_daemon')), 'the daemon listening');
    // The released gateway describes the sim itself: its eqLogic and typed cmds, then its values.
    await box.waitFor(() => typeof box.cmd('thermo1', 'temperature')?.cache.value === 'number', 'a temperature from the released gateway');
    expect(box.cmd('thermo1', 'temperature')).toMatchObject({ type: 'info', subType: 'numeric', unite: '°C', generic_type: 'TEMPERATURE' });
    await box.php('patchbay::deamon_stop(); return true;');
    expect(box.log('patchbay_daemon')).toMatch(/\[DEBUG\] : Exit 0\n/);
    expect(box.log()).not.toContain('SIGKILL');
  });
});
