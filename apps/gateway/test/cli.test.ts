import { existsSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { Signal, spawnPatchbay, tempDir, type PatchbayProcess } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

function workDir(): string {
  const dir = tempDir();
  cleanups.push(dir.remove);
  return dir.path;
}

function start(args: string[]): PatchbayProcess {
  const proc = spawnPatchbay(args);
  cleanups.push(() => proc.stop());
  return proc;
}

/** Waits, on file-system change events, for the JSON lines file an example host writes to hold a matching line. */
async function waitForLine(_proc: PatchbayProcess, file: string, predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  const signal = new Signal();
  const watcher = watch(dirname(dirname(file)), { recursive: true }, () => signal.notify());
  try {
    return await signal.waitUntil(
      () => {
        const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.endsWith('}')).map((l) => JSON.parse(l) as Record<string, unknown>) : [];
        return lines.find(predicate);
      },
      { timeoutMs: 15_000, what: `a matching line in ${file}` },
    );
  } finally {
    watcher.close();
  }
}

const threeMistakes = {
  gateway: { http: { port: 'abc' } },
  devices: [{ id: 'thermo1', driver: 'no-such-driver' }],
  hosts: [{ id: 'ex', adapter: 'patchbay-adapter-example', options: { snapshotOnStart: 'yes' } }],
};

describe('patchbay cli', () => {
  it('check - lists every mistake with its path and exits 1', async () => {
    const file = join(workDir(), 'bad.yaml');
    writeFileSync(file, stringify(threeMistakes));
    const proc = start(['check', file]);
    expect(await proc.exited).toBe(1);
    const err = proc.stderr();
    expect(err).toContain('gateway.http.port');
    expect(err).toContain('devices[0].driver: unknown driver "no-such-driver"');
    expect(err).toContain('hosts[0].options.file');
    expect(err).toContain('hosts[0].options.snapshotOnStart');
  });

  it('run - refuses to start with the same messages as check', async () => {
    const file = join(workDir(), 'bad.json');
    writeFileSync(file, JSON.stringify(threeMistakes));
    const proc = start(['run', '--config', file]);
    expect(await proc.exited).toBe(1);
    expect(proc.stderr()).toContain('devices[0].driver: unknown driver "no-such-driver"');
    expect(proc.stderr()).toContain('hosts[0].options.file');
  });

  it('check - accepts a valid config', async () => {
    const dir = workDir();
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, stringify({ devices: [{ id: 'thermo1', driver: 'sim' }], hosts: [{ id: 'ex', adapter: 'patchbay-adapter-example', options: { file: join(dir, 'x') } }] }));
    const proc = start(['check', file]);
    expect(await proc.exited).toBe(0);
  });

  it('config - the embedded default uses each platform standard port; PATCHBAY_*_PORT moves one; a bad value is refused naming the variable; PATCHBAY_MQTT_URL names a broker instead of the embedded one (21)', async () => {
    const embedded = async (env: NodeJS.ProcessEnv) => {
      const proc = spawnPatchbay(['config', '--format', 'json'], {
        env: { PATCHBAY_CONFIG: '', PATCHBAY_DATA_DIR: workDir(), PATCHBAY_JEEDOM_PORT: '', PATCHBAY_COMODOJO_PORT: '', PATCHBAY_DOMOGIK_REQ_REP_PORT: '', PATCHBAY_DOMOGIK_PUB_PORT: '', PATCHBAY_DOMOGIK_SUB_PORT: '', PATCHBAY_MQTT_PORT: '', PATCHBAY_MQTT_URL: '', ...env },
      });
      cleanups.push(() => proc.stop());
      const code = await proc.exited;
      return { code, proc, hosts: code === 0 ? (JSON.parse(proc.lines.map((l) => l.msg).join('\n')) as { hosts: { id: string; options: Record<string, unknown> }[] }).hosts : [] };
    };
    const options = (hosts: { id: string; options: Record<string, unknown> }[], id: string) => hosts.find((h) => h.id === id)?.options;
    const standard = await embedded({});
    expect(standard.code).toBe(0);
    expect(options(standard.hosts, 'jeedom')).toMatchObject({ socketPort: 55009, socketHost: '127.0.0.1' });
    expect(options(standard.hosts, 'domogik')).toMatchObject({ reqRepPort: 40410, pubPort: 40411, subPort: 40412 });
    expect(options(standard.hosts, 'comodojo')).toMatchObject({ socket: 'tcp://127.0.0.1:10042' });
    expect(options(standard.hosts, 'mqtt')).toMatchObject({ embedded: { host: '127.0.0.1', port: 1883 } });
    const moved = await embedded({ PATCHBAY_JEEDOM_PORT: '21001', PATCHBAY_DOMOGIK_SUB_PORT: '21002', PATCHBAY_COMODOJO_PORT: '21003', PATCHBAY_MQTT_PORT: '21004' });
    expect(options(moved.hosts, 'mqtt')).toMatchObject({ embedded: { port: 21004 } });
    expect(options(moved.hosts, 'jeedom')).toMatchObject({ socketPort: 21001 });
    expect(options(moved.hosts, 'domogik')).toMatchObject({ reqRepPort: 40410, subPort: 21002 });
    expect(options(moved.hosts, 'comodojo')).toMatchObject({ socket: 'tcp://127.0.0.1:21003' });
    const bad = await embedded({ PATCHBAY_DOMOGIK_PUB_PORT: '4041x' });
    expect(bad.code).toBe(1);
    expect(bad.proc.stderr()).toContain('PATCHBAY_DOMOGIK_PUB_PORT="4041x" is not a port');
    // docker-compose.yml points the gateway at its mosquitto service this way.
    const broker = await embedded({ PATCHBAY_MQTT_URL: 'mqtt://mosquitto:1883' });
    expect(broker.code).toBe(0);
    expect(options(broker.hosts, 'mqtt')).toMatchObject({ url: 'mqtt://mosquitto:1883' });
  });

  it('config - prints the resolved config with defaults and secrets redacted', async () => {
    const dir = workDir();
    const file = join(dir, 'c.yaml');
    const secret = 'sup3r-s3cret-apikey-value';
    writeFileSync(
      file,
      stringify({
        devices: [{ id: 'thermo1', driver: 'sim' }],
        hosts: [
          { id: 'ex', adapter: 'patchbay-adapter-example', options: { file: join(dir, 'x') } },
          { id: 'jeedom', adapter: 'jeedom', options: { socketPort: 0, apikey: secret } },
        ],
      }),
    );
    const proc = start(['config', '--config', file, '--format', 'json']);
    expect(await proc.exited).toBe(0);
    const text = proc.lines.map((l) => l.msg).join('\n');
    expect(text).not.toContain(secret);
    const printed = JSON.parse(text) as { gateway: { http: { port: number } }; devices: { options: { interval: number } }[]; hosts: { options: { apikey: string } }[] };
    expect(printed.gateway.http.port).toBe(8080);
    expect(printed.devices[0]?.options.interval).toBe(1000);
    expect(printed.hosts[1]?.options.apikey).toBe('[redacted]');
  });

  it('cli - an unknown command is named as one', async () => {
    const proc = start(['bogus']);
    expect(await proc.exited).toBe(1);
    expect(proc.stderr()).toMatch(/^patchbay: unknown command 'bogus' \(commands: run, check, config, reload, sim, jeedom; see patchbay --help\)\n$/);
  });

  it('run - an HTTP port in use is one line naming the address and what moves it, exit 1', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const port = (blocker.address() as AddressInfo).port;
    const dir = workDir();
    const file = join(dir, 'c.yaml');
    writeFileSync(file, stringify({ gateway: { dataDir: join(dir, 'data'), http: { port } }, log: { format: 'json' }, devices: [{ id: 'thermo1', driver: 'sim' }], hosts: [{ id: 'ex', adapter: 'patchbay-adapter-example', options: { file: join(dir, 'x') } }] }));
    const proc = start(['run', '--config', file]);
    expect(await proc.exited).toBe(1);
    expect(proc.stderr()).toBe(`patchbay: cannot serve HTTP on 127.0.0.1:${port}: the address is in use by another process (move it with --port, PATCHBAY_HTTP_PORT or gateway.http.port)\n`);
  });

  it('run - a second SIGTERM a few ms after the first (GNU timeout, a process-group kill) does not skip the drain', async () => {
    const dir = workDir();
    const file = join(dir, 'c.yaml');
    // A host that cannot start keeps events queued, so the drain runs to its deadline.
    writeFileSync(
      file,
      stringify({
        gateway: { dataDir: join(dir, 'data'), http: { port: 0 }, drainTimeoutMs: 1500 },
        log: { format: 'json' },
        devices: [{ id: 'thermo1', driver: 'sim', options: { interval: 10 } }],
        hosts: [{ id: 'down', adapter: 'patchbay-adapter-example', options: { file: join(dir, 'missing', 'x.jsonl') } }],
      }),
    );
    const proc = start(['run', '--config', file]);
    await proc.waitStarted();
    await proc.waitForLog((l) => l.host === 'down' && typeof l.msg === 'string' && l.msg.includes('failed'), { what: 'the down host failing to start' });
    proc.child.kill('SIGTERM');
    // Two signals sent before the first is handled merge into one: send the second once the first is seen.
    await proc.waitForLog((l) => l.msg === 'SIGTERM received: stopping (draining outboxes)', { what: 'the first SIGTERM' });
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(proc.lines.some((l) => typeof l.msg === 'string' && /^SIGTERM again \d+ ms after SIGTERM: ignored/.test(l.msg))).toBe(true);
    expect(proc.lines.some((l) => l.msg === 'patchbay stopped')).toBe(true);
  });

  it('check - a JSON syntax error names its line and column', async () => {
    const file = join(workDir(), 'bad.json');
    writeFileSync(file, '{\n  "devices": [\n    {"id": "a", "driver": "sim",}\n  ]\n}\n');
    const proc = start(['check', file]);
    expect(await proc.exited).toBe(1);
    expect(proc.stderr()).toMatch(/bad\.json is not valid JSON: .* at line 3, column 33/);
  });

  it('config - a callback URL\'s user:pass and ?apikey= are redacted; file modes print in octal', async () => {
    const dir = workDir();
    const file = join(dir, 'c.yaml');
    writeFileSync(
      file,
      stringify({
        devices: [{ id: 'thermo1', driver: 'sim' }],
        hosts: [
          { id: 'jeedom', adapter: 'jeedom', options: { socketPort: 0, apikey: 'k3y-in-options', callback: 'http://admin:pa55word@jeedom.lan/plugins/p/core/php/jeeP.php?apikey=k3y-in-url' } },
          { id: 'tracim', adapter: 'tracim', options: { mode: 'master', socketPath: join(dir, 't.sock') } },
        ],
      }),
    );
    const proc = start(['config', '--config', file]);
    expect(await proc.exited).toBe(0);
    const text = proc.lines.map((l) => l.msg).join('\n');
    expect(text).not.toMatch(/pa55word|k3y-in/);
    expect(text).toContain('http://[redacted]@jeedom.lan/plugins/p/core/php/jeeP.php?apikey=[redacted]');
    expect(text).toMatch(/socketMode: "0600"/);
  });

  it('run - never logs a secret, even at debug level where the resolved config is logged', async () => {
    const dir = workDir();
    const file = join(dir, 'c.yaml');
    const secret = 'an0ther-s3cret-apikey-value';
    writeFileSync(
      file,
      stringify({
        gateway: { dataDir: join(dir, 'data'), http: { port: 0 } },
        log: { level: 'debug', format: 'json' },
        devices: [{ id: 'thermo1', driver: 'sim' }],
        // The callback carries secrets of its own: a password and an ?apikey= (port 1: nothing answers).
        hosts: [{ id: 'jeedom', adapter: 'jeedom', options: { socketPort: 0, apikey: secret, callback: `http://admin:pa55word@127.0.0.1:1/x.php?apikey=${secret}` } }],
      }),
    );
    const proc = start(['run', '--config', file]);
    await proc.waitStarted();
    await proc.waitForLog((l) => l.msg === 'resolved config', { what: 'the debug line with the resolved config' });
    expect(await proc.stop()).toBe(0);
    const everything = JSON.stringify(proc.lines) + proc.stderr();
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain('pa55word');
    expect(everything).toContain('[redacted]');
  });

  it('run - loads a third-party adapter by package name, bridges the sim device into every host, serves /healthz and /metrics', async () => {
    const dir = workDir();
    const config = join(dir, 'gw.yaml');
    const [a, b] = [join(dir, 'a.jsonl'), join(dir, 'b.jsonl')];
    writeFileSync(
      config,
      stringify({
        gateway: { dataDir: join(dir, 'data'), http: { port: 0 } },
        devices: [{ id: 'thermo1', driver: 'sim', options: { interval: 20 } }],
        hosts: [
          { id: 'a', adapter: 'patchbay-adapter-example', options: { file: a } },
          { id: 'b', adapter: 'patchbay-adapter-example', options: { file: b } },
        ],
      }),
    );
    const pid = join(dir, 'patchbay.pid');
    const proc = start(['run', '--config', config, '--pid', pid]);
    await proc.waitStarted();
    expect(readFileSync(pid, 'utf8')).toBe(`${proc.child.pid}\n`);
    for (const file of [a, b]) await waitForLine(proc, file, (l) => l.kind === 'state' && l.device === 'thermo1' && l.channel === 'temperature');
    const health = await fetch(`${proc.url}/healthz`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { status: string; devices: { id: string; status: string; lastSeen: number }[]; hosts: { id: string; delivered: number }[] };
    expect(body.status).toBe('ok');
    expect(body.devices[0]).toMatchObject({ id: 'thermo1', status: 'alive' });
    expect(body.hosts.map((h) => h.id)).toEqual(['a', 'b']);
    const metrics = await (await fetch(`${proc.url}/metrics`)).text();
    expect(metrics).toMatch(/patchbay_device_up\{device="thermo1",driver="sim"\} 1/);
    expect(metrics).toMatch(/patchbay_example_lines_total\{host="a",adapter="example-jsonl"\} \d+/);
    // SIGHUP (the terminal went away) does not stop a daemon.
    proc.child.kill('SIGHUP');
    await proc.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('SIGHUP received'), { what: 'the SIGHUP line' });
    expect((await fetch(`${proc.url}/healthz`)).status).toBe(200);
    expect(await proc.stop()).toBe(0);
    expect(existsSync(pid)).toBe(false);
    expect(proc.lines.some((l) => l.msg === 'patchbay stopped')).toBe(true);
  });

  it('run - a host that is down gets, after a kill -9 and restart, what was accepted while it was down', async () => {
    const dir = workDir();
    const config = join(dir, 'gw.yaml');
    // The host's directory does not exist yet: its adapter cannot start, so events wait in its outbox.
    const hostFile = join(dir, 'later', 'host.jsonl');
    const okFile = join(dir, 'ok.jsonl');
    writeFileSync(
      config,
      stringify({
        gateway: { dataDir: join(dir, 'data'), http: { port: 0 } },
        devices: [{ id: 'thermo1', driver: 'sim', options: { interval: 10 } }],
        hosts: [
          { id: 'down', adapter: 'patchbay-adapter-example', options: { file: hostFile, snapshotOnStart: false } },
          { id: 'up', adapter: 'patchbay-adapter-example', options: { file: okFile, snapshotOnStart: false } },
        ],
      }),
    );
    const first = start(['run', '--config', config]);
    await first.waitStarted();
    // Wait until the healthy host has seen several reports, so the down host owes them too.
    const seen = await waitForLine(first, okFile, (l) => l.kind === 'state' && l.channel === 'humidity' && typeof l.time === 'number');
    await first.waitForLog((l) => l.host === 'down' && typeof l.msg === 'string' && l.msg.includes('failed'), { what: 'the down host failing to start' });
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');

    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'later'));
    const second = start(['run', '--config', config]);
    await second.waitStarted();
    const recovered = await second.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('journal recovered'), { what: 'journal recovery' });
    // What the first run accepted for the down host came back from the journal...
    expect(recovered.replayed).toBeGreaterThan(0);
    expect(recovered.lastSeq).toBeGreaterThan(0);
    // ...and the host, now reachable, gets the latest value of every channel. (Latest wins:
    // the values themselves may be the second run's; the in-process crash test in test/
    // checks replies and states that cannot be superseded.)
    for (const channel of ['temperature', 'humidity', 'relay']) {
      await waitForLine(second, hostFile, (l) => l.kind === 'state' && l.device === 'thermo1' && l.channel === channel);
    }
    expect(seen.device).toBe('thermo1');
  });
});
