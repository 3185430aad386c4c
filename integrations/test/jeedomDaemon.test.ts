import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JeedomBox, sourceLauncher, type CmdRow } from './jeedomBox.js';
import { simDescription } from './fixtures.js';

/** The sim's description plus an action on its read-only humidity, to see a refusal come back. */
const description = {
  ...simDescription,
  cmds: [...simDescription.cmds, { logicalId: 'humidity::set', name: 'Humidity set', type: 'action', subType: 'slider', minValue: 0, maxValue: 100, value: 'humidity', channel: 'humidity' }],
};

function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

/**
 * The plugin's daemon methods as Jeedom calls them (deamon_start, deamon_info, deamon_stop,
 * execute from a cmd), with the real gateway as the daemon (`patchbay jeedom`, from source)
 * and the stand-in core. Patchbay's adapter posts values, replies and status; until it posts
 * descriptions itself, the test posts the sim's description in the contract's shape first.
 */
describe('jeedom plugin - daemon', () => {
  let box: JeedomBox | undefined;
  afterEach(async () => {
    await box?.close();
    box = undefined;
  });

  it('jeedom plugin - deamon_start runs `patchbay jeedom` with Jeedom\'s options and a config from the settings; a cmd\'s execute() reaches the device and gets its reply; deamon_stop ends it with exit 0 and nothing lost', async () => {
    box = await JeedomBox.start({ config: { devices: JSON.stringify([{ id: 'thermo1', driver: 'sim', options: { interval: 200 } }]) } });
    const b = box;
    await b.php(`config::save('binary', ${JSON.stringify(sourceLauncher(b.root))}, 'patchbay'); return true;`);

    const started = await b.php('return patchbay::deamon_start();');
    expect(started.result, `${started.error ?? ''}\n${b.log('patchbay_daemon')}`).toBe(true);
    const info = await b.php('return patchbay::deamon_info();');
    expect(info.result).toMatchObject({ state: 'ok', launchable: 'ok', log: 'patchbay_daemon' });
    const pid = Number(readFileSync(join(b.root, 'tmp/patchbay/deamon.pid'), 'utf8'));
    // The command line: Jeedom's options (§2.2) plus the config the plugin wrote.
    const args = execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' });
    const port = String(b.db().config.patchbay?.socketport);
    expect(args).toContain(`jeedom --loglevel debug --socketport ${port} --sockethost 127.0.0.1 --callback ${b.callbackUrl} --apikey ${b.apikey()} --pid ${join(b.root, 'tmp/patchbay/deamon.pid')} --cycle 0 --config ${join(b.root, 'tmp/patchbay/patchbay.json')}`);
    const config = JSON.parse(readFileSync(join(b.root, 'tmp/patchbay/patchbay.json'), 'utf8'));
    expect(config).toEqual({ gateway: { name: 'jeedom', http: { enabled: false }, dataDir: join(b.root, 'plugins/patchbay/data'), drainTimeoutMs: 2000 }, devices: [{ id: 'thermo1', driver: 'sim', options: { interval: 200 } }], hosts: [] });
    await b.waitFor(() => /Listening on/.test(b.log('patchbay_daemon')), 'the daemon listening');

    // The description (contract shape), then the gateway's own values land on the cmds.
    expect((await b.request({ body: { descriptions: { thermo1: description } } })).status).toBe(200);
    await b.waitFor(() => typeof b.cmd('thermo1', 'temperature')?.cache.value === 'number', 'a temperature from the gateway');

    // relay::on from Jeedom: socket -> gateway -> sim -> reply to the callback -> execute() returns it.
    const relayOn = b.cmd('thermo1', 'relay::on') as CmdRow;
    const on = await b.php(`return cmd::byId(${relayOn.id})->execCmd();`);
    expect(on.error).toBeUndefined();
    expect(on.result).toBe(true);
    expect(b.cmd('thermo1', 'relay::on')?.cache.lastReply).toMatchObject({ ok: true, value: true });
    await b.waitFor(() => b.cmd('thermo1', 'relay')?.cache.value === 1, 'the relay state 1');
    const off = await b.php(`return cmd::byId(${(b.cmd('thermo1', 'relay::off') as CmdRow).id})->execCmd();`);
    expect(off.result).toBe(false);
    await b.waitFor(() => b.cmd('thermo1', 'relay')?.cache.value === 0, 'the relay state 0');

    // A refusal shows as the cmd's error (Jeedom displays an execute() exception to the user).
    const refused = await b.php(`return cmd::byId(${(b.cmd('thermo1', 'humidity::set') as CmdRow).id})->execCmd(array('slider' => 50));`);
    expect(refused.error).toMatch(/\[Simulated thermostat\]\[Humidity set\] : .*read-only/);
    expect(b.cmd('thermo1', 'humidity::set')?.cache.lastReply).toMatchObject({ ok: false });

    // A command sent just before the stop (no wait for its reply), then deamon_stop as Jeedom calls it.
    await b.php(`config::save('replyWaitMs', 0, 'patchbay'); return true;`);
    const replies = () => Object.keys(b.db().cache).filter((k) => k.startsWith('patchbay::reply::'));
    const before = replies();
    const last = await b.php(`return cmd::byId(${relayOn.id})->execCmd();`);
    expect(last.result).toBeNull();
    const stopped = await b.php('patchbay::deamon_stop(); return patchbay::deamon_info();');
    expect(stopped.result).toMatchObject({ state: 'nok' });
    expect(processAlive(pid)).toBe(false);
    // Exit 0 after its own drain (SIGTERM, no SIGKILL), and the last reply delivered.
    expect(b.log('patchbay_daemon')).toMatch(/\[DEBUG\] : Signal 15 caught, exiting\.\.\.\n(.*\n)*.*\[DEBUG\] : Exit 0\n/);
    expect(b.log()).toMatch(/\[INFO\] Démon arrêté en \d+ ms/);
    expect(b.log()).not.toContain('SIGKILL');
    const added = replies().filter((k) => !before.includes(k));
    expect(added).toEqual([expect.stringMatching(new RegExp(`^patchbay::reply::jeedom-${relayOn.id}-`))]);
    expect(b.db().cache[added[0] as string]?.value).toMatchObject({ ok: true, value: true });
    expect(Object.keys(b.db().cache).filter((k) => k.startsWith('patchbay::pending::'))).toEqual([]);
    expect(existsSync(join(b.root, 'tmp/patchbay/deamon.pid'))).toBe(false);
  });

  it('jeedom plugin - deamon_stop waits drainTimeoutMs plus a margin after SIGTERM, and only then SIGKILLs a daemon that does not exit', async () => {
    box = await JeedomBox.start({ config: { drainTimeoutMs: '200' } });
    const b = box;
    // A daemon that notes SIGTERM and keeps running.
    const stubborn = join(b.root, 'stubborn');
    writeFileSync(stubborn, `#!/bin/sh\nwhile [ $# -gt 0 ]; do case $1 in --pid) pid=$2; shift ;; esac; shift; done\ntrap 'echo TERM >> "$pid.signals"' TERM\necho $$ > "$pid"\nwhile :; do sleep 0.05; done\n`);
    chmodSync(stubborn, 0o755);
    await b.php(`config::save('binary', ${JSON.stringify(stubborn)}, 'patchbay'); return true;`);
    expect((await b.php('return patchbay::deamon_start();')).result).toBe(true);
    const pidFile = join(b.root, 'tmp/patchbay/deamon.pid');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const t0 = Date.now();
    const stop = await b.php('patchbay::deamon_stop(); return true;');
    const elapsed = Date.now() - t0;
    expect(stop.result).toBe(true);
    expect(readFileSync(`${pidFile}.signals`, 'utf8')).toContain('TERM');
    expect(processAlive(pid)).toBe(false);
    expect(b.log()).toContain('[ERROR] Le démon ne s\'est pas arrêté après 3200 ms : SIGKILL');
    // A lower bound only (the wait is the plugin's, not the machine's speed).
    expect(elapsed).toBeGreaterThanOrEqual(3200);
  });

  it('jeedom plugin - not launchable without the release or with bad settings; sendToDaemon refuses while it is stopped', async () => {
    box = await JeedomBox.start();
    const b = box;
    expect((await b.php('return patchbay::deamon_info();')).result).toMatchObject({ state: 'nok', launchable: 'nok', launchable_message: expect.stringContaining('dépendances') });
    expect((await b.php('return patchbay::dependancy_info()["state"];')).result).toBe('nok');
    await b.php(`config::save('binary', ${JSON.stringify(sourceLauncher(b.root))}, 'patchbay'); return true;`);
    await b.php(`config::save('socketport', 'abc', 'patchbay'); return true;`);
    expect((await b.php('return patchbay::deamon_info();')).result).toMatchObject({ launchable: 'nok', launchable_message: expect.stringContaining('port') });
    await b.php(`config::save('socketport', '55071', 'patchbay'); config::save('devices', '{"id": "x"}', 'patchbay'); return true;`);
    expect((await b.php('return patchbay::deamon_info();')).result).toMatchObject({ launchable: 'nok', launchable_message: expect.stringContaining('liste JSON') });
    const start = await b.php('return patchbay::deamon_start();');
    expect(start.error).toContain('Veuillez vérifier la configuration');
    expect((await b.php('patchbay::sendToDaemon(array("action" => "refresh")); return true;')).error).toContain("Le démon n'est pas démarré");
  });
});
