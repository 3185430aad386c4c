import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JeedomBox, type CmdRow } from './jeedomBox.js';
import { mergedBody, modbusDescription, simDescription } from './fixtures.js';

/** Every cmd a description made is one Jeedom can show and run: the stand-in's cmd::save refused anything else. */
function expectWellFormed(cmds: CmdRow[]): void {
  for (const cmd of cmds) {
    expect(cmd.name, JSON.stringify(cmd)).not.toBe('');
    expect(['info', 'action']).toContain(cmd.type);
    expect(cmd.type === 'info' ? ['numeric', 'binary', 'string'] : ['other', 'slider', 'select']).toContain(cmd.subType);
  }
}

/** The callback (core/php/jeePatchbay.php) fed with bodies in the contract's shape, served by php -S over the stand-in core. */
describe('jeedom plugin - callback', () => {
  let box: JeedomBox;
  beforeEach(async () => {
    box = await JeedomBox.start();
    await box.php('return jeedom::getApiKey("patchbay");');
  });
  afterEach(async () => {
    await box.close();
  });

  it('jeedom plugin - the sim device becomes one eqLogic with typed cmds (info/action, subType, unit, min/max, generic_type)', async () => {
    const answer = await box.request({ body: { descriptions: { thermo1: simDescription } } });
    expect(answer).toEqual({ status: 200, text: '' });
    const eq = box.eqLogic('thermo1');
    expect(eq).toMatchObject({ name: 'Simulated thermostat', eqType_name: 'patchbay', isEnable: 1, configuration: { manufacturer: 'Patchbay', model: 'sim', device: 'thermo1' } });
    const cmds = box.cmds('thermo1');
    expect(cmds.map((c) => c.logicalId).sort()).toEqual(simDescription.cmds.map((c) => c.logicalId).sort());
    expectWellFormed(cmds);
    expect(box.cmd('thermo1', 'temperature')).toMatchObject({ type: 'info', subType: 'numeric', unite: '°C', generic_type: 'TEMPERATURE', isHistorized: 1, configuration: { minValue: -40, maxValue: 85 } });
    expect(box.cmd('thermo1', 'relay')).toMatchObject({ type: 'info', subType: 'binary', generic_type: 'ENERGY_STATE' });
    const relay = box.cmd('thermo1', 'relay') as CmdRow;
    // An action shows the state of its info: `value` is the info cmd's id.
    expect(box.cmd('thermo1', 'relay::on')).toMatchObject({ type: 'action', subType: 'other', generic_type: 'ENERGY_ON', value: relay.id, configuration: { channel: 'relay', send: 'true' } });
    expect(box.cmd('thermo1', 'relay::off')).toMatchObject({ configuration: { channel: 'relay', send: 'false' } });
    expect(box.cmd('thermo1', 'setpoint::set')).toMatchObject({ subType: 'slider', generic_type: 'THERMOSTAT_SET_SETPOINT', value: box.cmd('thermo1', 'setpoint')?.id, configuration: { minValue: 5, maxValue: 30 }, display: { parameters: { step: 0.5 } } });
    expect(box.cmd('thermo1', 'mode::set')).toMatchObject({ subType: 'select', configuration: { listValue: 'eco|Eco;comfort|Comfort', channel: 'mode' } });
    expect(box.cmd('thermo1', 'reboot')).toMatchObject({ type: 'action', subType: 'other', configuration: { deviceAction: 'reboot' } });

    // Sent again (every start): the same eqLogic and cmds, not copies; the user's name stays.
    await box.php('$eq = eqLogic::byLogicalId("thermo1", "patchbay"); $eq->setName("Salon"); $eq->save(); return true;');
    const ids = cmds.map((c) => c.id).sort();
    await box.request({ body: { descriptions: { thermo1: simDescription } } });
    expect(Object.values(box.db().eqLogic)).toHaveLength(1);
    expect(box.eqLogic('thermo1')?.name).toBe('Salon');
    expect(box.cmds('thermo1').map((c) => c.id).sort()).toEqual(ids);
  });

  it('jeedom plugin - a Modbus-like described device: measurements with units, a writable register as a slider, a coil as on/off', async () => {
    await box.request({ body: { descriptions: { meter1: modbusDescription } } });
    expect(box.eqLogic('meter1')).toMatchObject({ name: 'Energy meter', configuration: { manufacturer: 'Eastron', model: 'SDM120', firmware: '2.1' } });
    const cmds = box.cmds('meter1');
    expect(cmds).toHaveLength(modbusDescription.cmds.length);
    expectWellFormed(cmds);
    expect(box.cmd('meter1', 'energy')).toMatchObject({ subType: 'numeric', unite: 'kWh', generic_type: 'CONSUMPTION' });
    expect(box.cmd('meter1', 'voltage')).toMatchObject({ unite: 'V', configuration: { minValue: 0, maxValue: 300 } });
    expect(box.cmd('meter1', 'demand_period::set')).toMatchObject({ subType: 'slider', value: box.cmd('meter1', 'demand_period')?.id, configuration: { minValue: 0, maxValue: 60, channel: 'demand_period' } });
    expect(box.cmd('meter1', 'output::on')).toMatchObject({ value: box.cmd('meter1', 'output')?.id, configuration: { channel: 'output', send: 'true' } });
    await box.request({ body: { devices: { meter1: { voltage: 230.1, energy: 1530.25, output: true } } } });
    expect(box.cmd('meter1', 'voltage')?.cache.value).toBe(230.1);
    expect(box.cmd('meter1', 'energy')?.cache.value).toBe(1530.25);
    expect(box.cmd('meter1', 'output')?.cache.value).toBe(1);
  });

  it('jeedom plugin - every key of a merged body is handled: descriptions, devices, availability, events, replies, status', async () => {
    // A command that was sent earlier, waiting for its reply.
    await box.request({ body: { descriptions: { thermo1: simDescription } } });
    const relayOn = box.cmd('thermo1', 'relay::on') as CmdRow;
    await box.php(`cache::set("patchbay::pending::jeedom-77", ${relayOn.id}, 600); return true;`);

    const answer = await box.request({ body: mergedBody('jeedom-77') });
    expect(answer.status).toBe(200);
    // descriptions (three devices) and devices (values on the cmds, binary as 0/1).
    expect(['thermo1', 'meter1', 'btn1'].map((d) => box.eqLogic(d)?.logicalId)).toEqual(['thermo1', 'meter1', 'btn1']);
    expect(box.cmd('thermo1', 'temperature')?.cache.value).toBe(21.5);
    expect(box.cmd('thermo1', 'humidity')?.cache.value).toBe(40.0);
    expect(box.cmd('thermo1', 'relay')?.cache.value).toBe(1);
    expect(box.cmd('meter1', 'power')?.cache.value).toBe(120.0);
    // availability: Jeedom's timeout status and the last communication.
    expect(box.eqLogic('thermo1')?.status).toMatchObject({ patchbayAvailability: 'online', timeout: 0 });
    expect(box.eqLogic('meter1')?.status).toMatchObject({ patchbayAvailability: 'stale', timeout: 1 });
    expect(box.eqLogic('meter1')?.status.lastCommunication).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    // events: the same press twice is two events.
    const press = box.cmd('btn1', 'press') as CmdRow;
    expect(box.db().events.filter((e) => e.cmd_id === press.id).map((e) => e.value)).toEqual(['single', 'single']);
    // replies: on the asking cmd, with the failure's code, and in the log.
    expect(box.cmd('thermo1', 'relay::on')?.cache.lastReply).toMatchObject({ ok: false, code: 'PB211_READ_ONLY', error: 'channel humidity is read-only' });
    expect(box.log()).toMatch(/\[ERROR\] Command .* refused: PB211_READ_ONLY channel humidity is read-only/);
    // status.
    expect(box.eqLogic('thermo1')?.status.patchbayStatus).toBe('alive');
    expect(box.db().cache['patchbay::status::jeedom']?.value).toBe('alive');
  });

  it('jeedom plugin - the start-up GET and ?test=1 get 200', async () => {
    expect(await box.request({ method: 'GET' })).toEqual({ status: 200, text: '' });
    const test = await fetch(`${box.callbackUrl}?apikey=${box.apikey()}&test=1`);
    expect([test.status, await test.text()]).toEqual([200, 'OK']);
  });

  it('jeedom plugin - (18.4) bad input: a log line and a clean HTTP answer, never broken equipment', async () => {
    const body = { descriptions: { thermo1: simDescription } };
    // `?apikey[]=…`: a clean refusal too, not a PHP error.
    const arrayKey = await fetch(`${box.callbackUrl}?apikey[]=${box.apikey()}`, { method: 'POST', body: JSON.stringify(body) });
    expect(arrayKey.status).toBe(401);
    expect(box.serverOutput).not.toMatch(/Fatal|TypeError/);
    // No key, a wrong key, a short one: 401 with Jeedom's sentence, one log line without the key, nothing created.
    for (const apikey of [null, '', 'x'.repeat(64), 'short']) {
      const before = box.log().split('\n').length;
      const answer = await box.request({ body, apikey });
      expect(answer.status).toBe(401);
      expect(answer.text).toContain('autorisé');
      const lines = box.log().split('\n').slice(before - 1).filter((l) => l.includes('Callback refused'));
      expect(lines).toHaveLength(1);
      if (apikey) expect(box.log()).not.toContain(apikey);
    }
    expect(Object.keys(box.db().eqLogic)).toEqual([]);

    // Not JSON, a JSON array, a JSON string: 400 and one line.
    for (const raw of ['{"descriptions": {', '[1, 2]', '"text"']) {
      const answer = await box.request({ body: raw });
      expect(answer.status).toBe(400);
    }
    expect(box.log().match(/Callback body is not a JSON object/g)).toHaveLength(3);

    // Values and events for a device never described: 200 (nothing to retry), logged, no equipment made up.
    expect((await box.request({ body: { devices: { ghost: { temperature: 1 } }, events: [{ device: 'ghost', channel: 'press', value: 1 }], availability: { ghost: { state: 'online' } } } })).status).toBe(200);
    expect(box.log()).toContain('Values for unknown device ghost ignored');
    expect(box.log()).toMatch(/Event ignored .*ghost/);
    expect(Object.keys(box.db().eqLogic)).toEqual([]);

    // A description with bad cmds: those are skipped and logged, the good ones made; a key of the wrong type is logged, the rest applied.
    const bad = {
      name: 'Half good',
      cmds: [
        { logicalId: 'ok', name: 'OK', type: 'info', subType: 'numeric', unite: 'W' },
        { logicalId: 'wrongsub', name: 'Wrong', type: 'info', subType: 'slider' },
        { logicalId: 'notype', name: 'No type', subType: 'numeric' },
        { name: 'No id', type: 'info', subType: 'string' },
        { logicalId: 'select::set', name: 'Select', type: 'action', subType: 'select', channel: 'x' },
        { logicalId: 'nothing', name: 'Nothing', type: 'action', subType: 'other' },
        { logicalId: 'ok', name: 'Again', type: 'info', subType: 'string' },
        { logicalId: 'min', name: 'Min', type: 'info', subType: 'numeric', minValue: 'low' },
        { logicalId: 'range', name: 'Range', type: 'info', subType: 'numeric', minValue: 10, maxValue: 0 },
        'not an object',
      ],
    };
    const answer = await box.request({ body: { descriptions: { dev2: bad, dev3: { name: 'no cmds' }, 'bad id with spaces': simDescription }, devices: 'oops', status: { dev2: 'alive' } } });
    expect(answer.status).toBe(200);
    expect(box.cmds('dev2').map((c) => c.logicalId)).toEqual(['ok']);
    expectWellFormed(box.cmds('dev2'));
    expect(box.log().match(/Description of dev2: cmd \d+ skipped/g)).toHaveLength(9);
    expect(box.eqLogic('dev3')).toBeUndefined();
    expect(box.log()).toContain('Description of dev3 refused: no cmds list');
    expect(box.log()).toContain('Description refused: bad device id');
    expect(box.log()).toContain('Callback key devices is not an object');
    expect(box.eqLogic('dev2')?.status.patchbayStatus).toBe('alive');
    expect(Object.values(box.db().eqLogic).map((e) => e.logicalId)).toEqual(['dev2']);

    // A reply for an id nobody asked: logged, nothing else.
    expect((await box.request({ body: { replies: { 'jeedom-404': { ok: true, value: 1 } } } })).status).toBe(200);
    expect(box.log()).toContain('Reply for unknown command id jeedom-404');
  });

  it('jeedom plugin - a channel the description no longer has loses its cmd; cmds added by hand stay', async () => {
    await box.request({ body: { descriptions: { meter1: modbusDescription } } });
    await box.php(`$eq = eqLogic::byLogicalId("meter1", "patchbay"); $c = new patchbayCmd(); $c->setEqLogic_id($eq->getId()); $c->setLogicalId("mine"); $c->setName("Mine"); $c->setType("info"); $c->setSubType("string"); $c->save(); return true;`);
    const fewer = { ...modbusDescription, cmds: modbusDescription.cmds.filter((c) => !c.logicalId.startsWith('output')) };
    await box.request({ body: { descriptions: { meter1: fewer } } });
    expect(box.cmds('meter1').map((c) => c.logicalId).sort()).toEqual([...fewer.cmds.map((c) => c.logicalId), 'mine'].sort());
  });
});
