import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { defineAdapter, ErrorCodes, type SpecIssue } from '@patchbay/core';
import { tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { octalModes } from '../src/cli/config.js';
import { builtinsOf } from '../src/config/builtins.js';
import { ConfigFileError, parseConfigText } from '../src/config/file.js';
import { loadConfig } from '../src/config/load.js';
import { overlayConfig } from '../src/config/overlay.js';
import { redactSecrets, redactUrl } from '../src/config/redact.js';
import { createRegistry } from '../src/config/registry.js';
import { resolveConfig } from '../src/config/resolve.js';
import { validateConfig } from '../src/config/validate.js';
import { satisfies } from '../src/config/version.js';
import { embeddedFallback } from '../src/modes/index.js';
import { requireHttpTokens } from '../src/run/tokens.js';

const manifest = JSON.parse(readFileSync(join(import.meta.dirname, '../package.json'), 'utf8')) as { dependencies: Record<string, string> };
const registry = createRegistry(builtinsOf(manifest), { cwd: process.cwd() });
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanups.splice(0)) f();
});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

const at = (issues: readonly SpecIssue[], path: string) => issues.filter((i) => i.path === path).map((i) => i.message);

describe('config pipeline', () => {
  it('config - builtins are the @patchbay/adapter-* and driver-* packages the gateway depends on', () => {
    expect([...registry.types.drivers].sort()).toEqual(['modbus', 'serial', 'sim', 'teleinfo']);
    expect([...registry.types.adapters].sort()).toEqual(['comodojo', 'domogik', 'jeedom', 'mqtt', 'tracim', 'ws']);
  });

  it('config - the overlay never changes its input: flags win over the environment, which wins over the file', () => {
    const file = deepFreeze({ gateway: { dataDir: '/file', http: { host: '127.0.0.1', port: 1 } }, devices: [{ id: 'a', driver: 'sim' }] });
    const env = { PATCHBAY_DATA_DIR: '/env', PATCHBAY_HTTP_PORT: '2', PATCHBAY_HTTP_HOST: '::1' };
    const out = overlayConfig(file, { env, flags: { port: 3, extraDevices: [{ id: 'b', driver: 'sim' }] }, edits: [(raw) => ({ ...raw, hosts: [] })] });
    expect(out).toEqual({ gateway: { dataDir: '/env', http: { host: '::1', port: 3 } }, devices: [{ id: 'a', driver: 'sim' }, { id: 'b', driver: 'sim' }], hosts: [] });
    expect(file.gateway.dataDir).toBe('/file');
    // A bad port variable stays as written, so validation names the value.
    expect(overlayConfig({}, { env: { PATCHBAY_HTTP_PORT: '80x' } })).toEqual({ gateway: { http: { port: '80x' } } });
  });

  it('config - check reports every problem in one pass: shape errors do not skip endpoints, routes or duplicate ids; unknown keys get the closest known one', async () => {
    const raw = deepFreeze({
      gateway: { htpp: { port: 1 }, http: { port: 'abc' } },
      devices: [
        { id: 'thermo1', driver: 'sim' },
        { id: 'x', driver: 'no-such-driver' },
      ],
      hosts: [
        { id: 'x', adapter: 'no-such-adapter' },
        { id: 'j', adapter: 'jeedom', options: { socketport: 1, apikey: 'k' } },
      ],
      routes: [{ devices: ['thermo2'], hosts: ['j'] }],
    });
    const { validated, issues } = await validateConfig(raw, registry);
    expect(validated).toBeUndefined();
    expect(at(issues, 'gateway.htpp')).toEqual(['unknown key "htpp" (did you mean "http"?)']);
    expect(at(issues, 'gateway.http.port')).toHaveLength(1);
    expect(at(issues, 'devices[1].driver')[0]).toMatch(/unknown driver "no-such-driver"/);
    expect(at(issues, 'hosts[0].adapter')[0]).toMatch(/unknown adapter "no-such-adapter"/);
    // Both "x" entries failed to load; the duplicate is still found.
    expect(at(issues, 'hosts[0].id')[0]).toMatch(/duplicate id "x" \(first used at devices\[1\]\)/);
    expect(at(issues, 'hosts[1].options.socketport')).toEqual(['unknown key "socketport" (did you mean "socketPort"?)']);
    expect(at(issues, 'routes[0].devices[0]')[0]).toMatch(/unknown device "thermo2" .*\(did you mean "thermo1"\?\)/);
  });

  it('config - each driver and adapter type is loaded once however many entries name it, and a type that fails is reported at every entry', async () => {
    const loads: string[] = [];
    const counting = { types: registry.types, load: ((kind: 'driver' | 'adapter', type: string) => (loads.push(`${kind} ${type}`), registry.load(kind, type))) as typeof registry.load };
    const { validated, issues } = await validateConfig(
      {
        devices: [
          { id: 'a', driver: 'sim' },
          { id: 'b', driver: 'sim', options: { interval: 500 } },
          { id: 'c', driver: 'no-such-driver' },
          { id: 'd', driver: 'no-such-driver' },
        ],
        hosts: [{ id: 'w', adapter: 'ws' }],
      },
      counting,
    );
    expect(validated).toBeUndefined();
    expect(loads.sort()).toEqual(['adapter ws', 'driver no-such-driver', 'driver sim']);
    expect(at(issues, 'devices[2].driver')[0]).toMatch(/unknown driver "no-such-driver"/);
    expect(at(issues, 'devices[3].driver')).toEqual(at(issues, 'devices[2].driver'));
    const good = await validateConfig({ devices: [{ id: 'a', driver: 'sim' }, { id: 'b', driver: 'sim', options: { interval: 500 } }], hosts: [{ id: 'w', adapter: 'ws' }] }, counting);
    expect(good.validated?.devices.map((d) => d.definition.type)).toEqual(['sim', 'sim']);
    expect(good.validated?.devices[0]?.definition).toBe(good.validated?.devices[1]?.definition);
  });

  it('config - a device staleAfterMs reaches the gateway spec, a bad one is named by its path; gateway.eventTtlMs defaults to one hour', async () => {
    const good = await validateConfig({ devices: [{ id: 'thermo1', driver: 'sim', staleAfterMs: 4000 }], hosts: [{ id: 'web', adapter: 'ws' }] }, registry);
    expect(good.issues).toEqual([]);
    expect(good.validated?.devices[0]).toMatchObject({ id: 'thermo1', staleAfterMs: 4000 });
    expect(good.validated?.config.gateway.eventTtlMs).toBe(3_600_000);
    const bad = await validateConfig({ gateway: { eventTtlMs: 0 }, devices: [{ id: 'thermo1', driver: 'sim', staleAfterMs: 'soon' }] }, registry);
    expect(at(bad.issues, 'devices[0].staleAfterMs')).toHaveLength(1);
    expect(at(bad.issues, 'gateway.eventTtlMs')).toHaveLength(1);
  });

  it('config - JSON syntax errors name the line and column, as YAML ones do; the cause is kept', () => {
    let caught: unknown;
    try {
      parseConfigText('{\n  "gateway": {},\n  "devices": [\n    {"id": "a",}\n  ]\n}\n', 'c.json');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigFileError);
    expect((caught as ConfigFileError).message).toMatch(/^c\.json is not valid JSON: .* at line 4, column 16$/);
    expect((caught as ConfigFileError).cause).toBeInstanceOf(SyntaxError);
    expect(() => parseConfigText('{"a": 1', 'c.json')).toThrow(/at line 1, column 8$/);
    expect(() => parseConfigText('a: [1\nb: 2', 'c.yaml')).toThrow(/c\.yaml is not valid YAML: .*line 2/);
  });

  it('config - a duplicate YAML key is an error naming the key, where it repeats and where it was first', () => {
    const text = 'hosts:\n  - id: d\n    adapter: domogik\n    options:\n      sensors:\n        a.t: 1\n        b.t: 2\n        a.t: 3\n';
    let caught: unknown;
    try {
      parseConfigText(text, 'c.yaml');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigFileError);
    expect((caught as ConfigFileError).message).toBe('c.yaml is not valid YAML: duplicate key "a.t" at line 8, column 9 (first at line 6, column 9): map keys must be unique');
    expect((caught as ConfigFileError).context).toEqual({ path: 'c.yaml', line: 8, column: 9 });
    // In a flow map too, and at any depth; the same key in two maps is no duplicate.
    expect(() => parseConfigText('a: {x: 1, y: {x: 2}, x: 3}', 'c.yaml')).toThrow(/duplicate key "x" at line 1, column 22 \(first at line 1, column 5\)/);
    expect(parseConfigText('a: {x: 1, y: {x: 2}}\nb: {x: 1}', 'c.yaml')).toEqual({ a: { x: 1, y: { x: 2 } }, b: { x: 1 } });
  });

  it('config - warns on no devices or no hosts, and on the deprecated outbox.maxQueue (read as maxPendingReplies)', async () => {
    const empty = await validateConfig({}, registry);
    expect(empty.warnings).toEqual(['no devices: there is nothing to bridge', 'no hosts: device state goes nowhere']);
    const old = await validateConfig({ gateway: { outbox: { maxQueue: 7 } }, devices: [{ id: 'd', driver: 'sim' }], hosts: [{ id: 'w', adapter: 'ws' }] }, registry);
    expect(old.warnings).toEqual([expect.stringMatching(/maxQueue is deprecated.*maxPendingReplies/)]);
    const resolved = resolveConfig(old.validated!, '/work');
    expect(resolved.outbox).toEqual({ maxBatch: 512, maxPendingReplies: 7 });
    expect(resolved.dataDir).toBe('/work/data');
  });

  it('config - the listeners\' input budgets add up under gateway.maxBufferedBytes at the defaults; over it, check and run warn with each listener named (13.7)', async () => {
    const hosts = [
      { id: 'jeedom', adapter: 'jeedom', options: { apikey: 'k'.repeat(32), callback: 'http://127.0.0.1:1/x.php' } },
      { id: 'comodojo', adapter: 'comodojo' },
      { id: 'tracim', adapter: 'tracim' },
      { id: 'web', adapter: 'ws' },
    ];
    const defaults = await validateConfig({ devices: [{ id: 'd', driver: 'sim' }], hosts }, registry);
    expect(defaults.issues).toEqual([]);
    expect(defaults.warnings).toEqual([]);
    const small = await validateConfig({ gateway: { maxBufferedBytes: 64 * 1024 * 1024 }, devices: [{ id: 'd', driver: 'sim' }], hosts }, registry);
    // http 256 × 16 KiB, jeedom 16 MiB, comodojo 32 MiB + 64 × 64 KiB, tracim 2 MiB, ws 1000 × 64 KiB.
    expect(small.warnings).toEqual([
      'the listeners may hold 120.5 MiB of unfinished client input together (gateway.http 4 MiB, jeedom 16 MiB, comodojo 36 MiB, tracim 2 MiB, web 62.5 MiB), over gateway.maxBufferedBytes (64 MiB): lower a listener\'s connection cap or budget, or raise gateway.maxBufferedBytes',
    ]);
  });

  it('config - the embedded MQTT broker counts in the input budgets: maxConnections × its packet limit; with a url there is no listener to count (13.7)', async () => {
    const devices = [{ id: 'd', driver: 'sim' }];
    const limit = { gateway: { maxBufferedBytes: 1024 * 1024 } };
    // 64 × (256 KiB + 65,542 bytes): the default packet limit.
    const defaults = await validateConfig({ ...limit, devices, hosts: [{ id: 'mqtt', adapter: 'mqtt' }] }, registry);
    expect(defaults.warnings).toEqual([expect.stringContaining('may hold 24 MiB of unfinished client input together (gateway.http 4 MiB, mqtt 20 MiB)')]);
    const sized = await validateConfig({ ...limit, devices, hosts: [{ id: 'mqtt', adapter: 'mqtt', options: { embedded: { maxConnections: 8, maxPacketBytes: 1024 * 1024 } } }] }, registry);
    expect(sized.warnings).toEqual([expect.stringContaining('(gateway.http 4 MiB, mqtt 8 MiB)')]);
    const external = await validateConfig({ ...limit, devices, hosts: [{ id: 'mqtt', adapter: 'mqtt', options: { url: 'mqtt://127.0.0.1:1883', protocolVersion: 4 } }] }, registry);
    expect(external.warnings).toEqual([expect.stringContaining('(gateway.http 4 MiB)')]);
  });

  it('config - a definition built for another core version range is refused at load with PB104', async () => {
    const definition = { ...defineAdapter({ type: 'old', config: z.object({}), create: () => ({ start() {}, stop() {}, deliver() {} }) }), coreVersion: '^9.0.0' };
    const own = createRegistry([{ kind: 'adapter', type: 'old', load: async () => definition }], { cwd: process.cwd(), coreVersion: '0.1.0' });
    await expect(own.load('adapter', 'old')).rejects.toMatchObject({ code: ErrorCodes.CORE_INCOMPATIBLE, message: expect.stringMatching(/built for @patchbay\/core \^9\.0\.0.*runs @patchbay\/core 0\.1\.0/) });
    const fits = createRegistry([{ kind: 'adapter', type: 'old', load: async () => ({ ...definition, coreVersion: '^0.1.0' }) }], { cwd: process.cwd(), coreVersion: '0.1.4' });
    await expect(fits.load('adapter', 'old')).resolves.toMatchObject({ type: 'old' });
    expect([satisfies('0.1.0', '>=0.1.0 <1'), satisfies('1.0.0', '~0.1.0'), satisfies('2.1.0', '^1 || ^2')]).toEqual([true, false, true]);
  });

  it('config - secrets in a URL (user:pass, ?apikey=) are redacted for printing; other URLs are kept', () => {
    expect(redactUrl('http://admin:hunter2@jeedom.lan/plugins/p/core/php/jeeP.php?apikey=K3y&x=1')).toBe('http://[redacted]@jeedom.lan/plugins/p/core/php/jeeP.php?apikey=[redacted]&x=1');
    expect(redactUrl('tcp://127.0.0.1:10042')).toBe('tcp://127.0.0.1:10042');
    const printed = JSON.stringify(redactSecrets({ hosts: [{ options: { callback: 'https://u:pw0rd@h/x.php?apikey=s3cr3t', apikey: 's3cr3t' } }] }));
    expect(printed).not.toMatch(/pw0rd|s3cr3t/);
  });

  it('config - file modes print in octal', () => {
    expect(octalModes({ hosts: [{ options: { socketMode: 0o600, mode: 'master', port: 384 } }] })).toEqual({ hosts: [{ options: { socketMode: '0600', mode: 'master', port: 384 } }] });
  });

  it('config - the embedded default reads ports and secrets from the environment it is given; a bad port names its variable', async () => {
    const dir = tempDir();
    cleanups.push(() => void dir.remove());
    const loaded = await loadConfig({ env: { PATCHBAY_DATA_DIR: dir.path, PATCHBAY_JEEDOM_PORT: '21001' }, registry, cwd: dir.path, embeddedFallback });
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    expect(loaded.resolved.options.get('jeedom')).toMatchObject({ socketPort: 21001 });
    const keyFile = join(dir.path, 'jeedom.apikey');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect((loaded.resolved.options.get('jeedom') as { apikey: string }).apikey).toBe(readFileSync(keyFile, 'utf8').trim());
    const bad = await loadConfig({ env: { PATCHBAY_DATA_DIR: dir.path, PATCHBAY_COMODOJO_PORT: '0' }, registry, cwd: dir.path, embeddedFallback });
    expect(bad.ok ? '' : bad.message).toContain('PATCHBAY_COMODOJO_PORT="0" is not a port');
  });

  it('config - on a non-loopback HTTP host, a host that takes a token gets one generated into the data dir (0600), and the log says where', async () => {
    const dir = tempDir();
    cleanups.push(() => void dir.remove());
    const config = (host: string) => ({ gateway: { dataDir: dir.path, http: { host, port: 0 } }, devices: [{ id: 'd', driver: 'sim' }], hosts: [{ id: 'api', adapter: 'ws' }] });
    const warned: string[] = [];
    const logger = { warn: (msg: string) => void warned.push(msg) };
    const local = resolveConfig((await validateConfig(config('127.0.0.1'), registry)).validated!, dir.path);
    expect(requireHttpTokens(local, logger)).toBe(local);
    const open = resolveConfig((await validateConfig(config('0.0.0.0'), registry)).validated!, dir.path);
    const secured = requireHttpTokens(open, logger);
    const file = join(dir.path, 'api.token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((secured.options.get('api') as { token: string }).token).toBe(readFileSync(file, 'utf8').trim());
    expect((open.options.get('api') as { token?: string }).token).toBeUndefined();
    expect(warned).toEqual([expect.stringContaining(file)]);
    // The next run reuses it.
    expect((requireHttpTokens(open, logger).options.get('api') as { token: string }).token).toBe((secured.options.get('api') as { token: string }).token);
  });
});
