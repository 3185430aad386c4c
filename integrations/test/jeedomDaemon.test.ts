import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { repoRoot } from '@patchbay/testing';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JeedomBox, sourceLauncher, type CmdRow } from './jeedomBox.js';

/**
 * The sim device's cmds as the plugin creates them from the description the real adapter posts
 * (issue 15 acceptance 2): type, subType, unit, range, generic type, and what an action writes.
 */
const SIM_CMDS = [
  { logicalId: 'temperature', type: 'info', subType: 'numeric', unite: '°C', generic_type: 'TEMPERATURE', isHistorized: 1, minValue: -20, maxValue: 50, channel: undefined, send: undefined, deviceAction: undefined },
  { logicalId: 'humidity', type: 'info', subType: 'numeric', unite: '%', generic_type: 'HUMIDITY', isHistorized: 1, minValue: 0, maxValue: 100, channel: undefined, send: undefined, deviceAction: undefined },
  { logicalId: 'relay', type: 'info', subType: 'binary', unite: '', generic_type: 'ENERGY_STATE', isHistorized: 0, minValue: '', maxValue: '', channel: undefined, send: undefined, deviceAction: undefined },
  { logicalId: 'button', type: 'info', subType: 'string', unite: '', generic_type: '', isHistorized: 0, minValue: '', maxValue: '', channel: undefined, send: undefined, deviceAction: undefined },
  { logicalId: 'relay::on', type: 'action', subType: 'other', unite: '', generic_type: 'ENERGY_ON', isHistorized: 0, minValue: '', maxValue: '', channel: 'relay', send: 'true', deviceAction: '' },
  { logicalId: 'relay::off', type: 'action', subType: 'other', unite: '', generic_type: 'ENERGY_OFF', isHistorized: 0, minValue: '', maxValue: '', channel: 'relay', send: 'false', deviceAction: '' },
  { logicalId: 'refresh', type: 'action', subType: 'other', unite: '', generic_type: '', isHistorized: 0, minValue: '', maxValue: '', channel: '', send: '', deviceAction: 'refresh' },
  { logicalId: 'press', type: 'action', subType: 'other', unite: '', generic_type: '', isHistorized: 0, minValue: '', maxValue: '', channel: '', send: '', deviceAction: 'press' },
  { logicalId: 'mute', type: 'action', subType: 'other', unite: '', generic_type: '', isHistorized: 0, minValue: '', maxValue: '', channel: '', send: '', deviceAction: 'mute' },
  { logicalId: 'unmute', type: 'action', subType: 'other', unite: '', generic_type: '', isHistorized: 0, minValue: '', maxValue: '', channel: '', send: '', deviceAction: 'unmute' },
];

/** The parts of a stand-in cmd row the expected set names. */
function row(c: CmdRow): Record<string, unknown> {
  const conf = c.configuration;
  return { logicalId: c.logicalId, type: c.type, subType: c.subType, unite: c.unite, generic_type: c.generic_type, isHistorized: c.isHistorized, minValue: conf.minValue, maxValue: conf.maxValue, channel: conf.channel, send: conf.send, deviceAction: conf.deviceAction };
}

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
 * and the stand-in core: the equipment comes from the description the adapter posts.
 */
describe('jeedom plugin - daemon', () => {
  let box: JeedomBox | undefined;
  afterEach(async () => {
    await box?.close();
    box = undefined;
  });

  it('jeedom plugin - (15.2, 18.1) deamon_start runs `patchbay jeedom` with Jeedom\'s options and a config from the settings; a cmd\'s execute() reaches the device and gets its reply; deamon_stop ends it with exit 0 and nothing lost', async () => {
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

    // The gateway describes the sim: one eqLogic with typed cmds (15 acceptance 2, 18 acceptance 1), then its values land on them.
    await b.waitFor(() => typeof b.cmd('thermo1', 'temperature')?.cache.value === 'number', 'a temperature from the gateway');
    expect(Object.values(b.db().eqLogic).map((e) => [e.logicalId, e.name, e.configuration.manufacturer, e.configuration.model])).toEqual([['thermo1', 'Simulated thermostat', 'Patchbay', 'sim']]);
    expect(b.cmds('thermo1').map(row).sort((x, y) => SIM_CMDS.findIndex((c) => c.logicalId === x.logicalId) - SIM_CMDS.findIndex((c) => c.logicalId === y.logicalId))).toEqual(SIM_CMDS);
    // An action shows its info's state; the momentary button fires on every press.
    expect(b.cmd('thermo1', 'relay::on')?.value).toBe(b.cmd('thermo1', 'relay')?.id);
    expect(b.cmd('thermo1', 'button')?.configuration.repeatEventManagement).toBe('always');
    await b.waitFor(() => b.eqLogic('thermo1')?.status.patchbayAvailability === 'online', 'the availability online');

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

    // A device action (deviceAction): the sim's press comes back as a momentary event on the button, twice as two.
    const press = (b.cmd('thermo1', 'press') as CmdRow).id;
    for (let i = 0; i < 2; i++) expect((await b.php(`return cmd::byId(${press})->execCmd();`)).error).toBeUndefined();
    const button = (b.cmd('thermo1', 'button') as CmdRow).id;
    await b.waitFor(() => b.db().events.filter((e) => e.cmd_id === button).length >= 2, 'two presses');
    expect(b.db().events.filter((e) => e.cmd_id === button).map((e) => e.value)).toEqual(['single', 'single']);

    // A write to a read-only channel: the refusal comes back with its code (14.8).
    const ro = await b.php(`return patchbay::sendCommand(cmd::byId(${(b.cmd('thermo1', 'humidity') as CmdRow).id}), array('action' => 'command', 'device' => 'thermo1', 'channel' => 'humidity', 'value' => 50));`);
    await b.waitFor(() => b.db().cache[`patchbay::reply::${String(ro.result)}`], 'the refusal');
    expect(b.db().cache[`patchbay::reply::${String(ro.result)}`]?.value).toMatchObject({ ok: false, code: 'PB211_READ_ONLY', error: expect.stringContaining('read-only') });

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

  it('jeedom plugin - (18.1) a Modbus device (driver-modbus against a pymodbus slave) becomes its eqLogic: measurements with units and generic types, a holding register as a slider, a coil as on/off that writes the coil', async () => {
    // A Modbus TCP slave on Debian's pymodbus (test/peers/modbus/slave.py): stdin takes datastore commands, stdout says when it serves.
    const slave = spawn('/usr/bin/python3', [join(repoRoot, 'test/peers/modbus/slave.py'), '--tcp', '0', '--units', '1'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: slave.stdout })[Symbol.asyncIterator]();
    const exited = new Promise<void>((resolve) => slave.once('exit', () => resolve()));
    try {
      const ready = JSON.parse(String((await lines.next()).value)) as { port: number };
      const ask = async (request: Record<string, unknown>): Promise<Record<string, unknown>> => {
        slave.stdin.write(`${JSON.stringify(request)}\n`);
        return JSON.parse(String((await lines.next()).value)) as Record<string, unknown>;
      };
      await ask({ id: 1, op: 'set', unit: 1, table: 'ir', address: 0, values: [2304, 125] });
      const meter = {
        id: 'meter1',
        driver: 'modbus',
        options: {
          connection: { type: 'tcp', port: ready.port },
          unitId: 1,
          pollIntervalMs: 100,
          name: 'Energy meter',
          manufacturer: 'Eastron',
          model: 'SDM120',
          channels: {
            voltage: { table: 'input', address: 0, scale: 0.1, unit: 'V', class: 'voltage', stateClass: 'measurement' },
            power: { table: 'input', address: 1, unit: 'W', class: 'power', stateClass: 'measurement' },
            period: { table: 'holding', address: 0, writable: true, min: 0, max: 60, unit: 'min' },
            output: { table: 'coil', address: 0, writable: true, class: 'switch' },
          },
        },
      };
      box = await JeedomBox.start({ config: { devices: JSON.stringify([meter]) } });
      const b = box;
      await b.php(`config::save('binary', ${JSON.stringify(sourceLauncher(b.root))}, 'patchbay'); return true;`);
      expect((await b.php('return patchbay::deamon_start();')).result).toBe(true);
      await b.waitFor(() => b.cmd('meter1', 'voltage')?.cache.value === 230.4, 'the voltage read from the slave');
      expect(b.eqLogic('meter1')).toMatchObject({ name: 'Energy meter', configuration: { manufacturer: 'Eastron', model: 'SDM120' } });
      const rows = Object.fromEntries(b.cmds('meter1').map((c) => [c.logicalId, row(c)]));
      expect(Object.keys(rows).sort()).toEqual(['output', 'output::off', 'output::on', 'period', 'period::set', 'power', 'refresh', 'voltage']);
      expect(rows.voltage).toMatchObject({ type: 'info', subType: 'numeric', unite: 'V', generic_type: 'VOLTAGE', isHistorized: 1 });
      expect(rows.power).toMatchObject({ type: 'info', subType: 'numeric', unite: 'W', generic_type: 'POWER' });
      expect(rows['period::set']).toMatchObject({ type: 'action', subType: 'slider', unite: 'min', minValue: 0, maxValue: 60, channel: 'period' });
      expect(rows.output).toMatchObject({ type: 'info', subType: 'binary', generic_type: 'ENERGY_STATE' });
      expect(rows['output::on']).toMatchObject({ type: 'action', subType: 'other', generic_type: 'ENERGY_ON', channel: 'output', send: 'true' });
      await b.waitFor(() => b.cmd('meter1', 'power')?.cache.value === 125, 'the power read from the slave');
      // output::on from Jeedom writes the coil on the slave.
      const on = await b.php(`return cmd::byId(${(b.cmd('meter1', 'output::on') as CmdRow).id})->execCmd();`);
      expect(on.error).toBeUndefined();
      expect(await ask({ id: 2, op: 'get', unit: 1, table: 'co', address: 0, count: 1 })).toMatchObject({ values: [true] });
      await b.waitFor(() => b.cmd('meter1', 'output')?.cache.value === 1, 'the coil state 1');
      await b.php('patchbay::deamon_stop(); return true;');
      expect(b.log('patchbay_daemon')).toMatch(/\[DEBUG\] : Exit 0\n/);
    } finally {
      slave.kill('SIGKILL');
      await exited;
    }
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
