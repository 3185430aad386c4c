import { ChannelDescriptionSchema, type ChannelDescription } from '@patchbay/core';
import { simulatedDescription } from '@patchbay/driver-sim';
import { describe, expect, it } from 'vitest';
import { dataTypeFor, encodeSensorValue, familyOf } from './dataTypes.js';
import { SensorMap } from './mapping.js';

const channel = (c: Record<string, unknown>): ChannelDescription => ChannelDescriptionSchema.parse(c);

describe('domogik data types (15.6)', () => {
  it('domogik - (15.6) each channel of the simulated device gets the Domogik data type of its kind, unit and class', () => {
    const sim = simulatedDescription(1000).channels;
    const types = Object.fromEntries(Object.entries(sim).map(([id, c]) => [id, dataTypeFor(channel(c))]));
    expect(types).toEqual({ temperature: 'DT_Temp', humidity: 'DT_Humidity', relay: 'DT_Switch', button: 'DT_String' });
  });

  it('domogik - (15.6) boolean classes, units and the text kinds map to the names of Domogik\'s datatypes.json', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ kind: 'boolean' }, 'DT_Bool'],
      [{ kind: 'boolean', class: 'door' }, 'DT_OpenClose'],
      [{ kind: 'boolean', class: 'motion' }, 'DT_Motion'],
      [{ kind: 'number', unit: 'W', class: 'power' }, 'DT_Power'],
      [{ kind: 'number', unit: 'kWh', class: 'energy' }, 'DT_kActiveEnergy'],
      [{ kind: 'number', unit: 'Wh' }, 'DT_ActiveEnergy'],
      [{ kind: 'number', unit: 'V' }, 'DT_Volt'],
      [{ kind: 'number', unit: 'A' }, 'DT_Current'],
      [{ kind: 'number', unit: '%', class: 'battery' }, 'DT_Battery'],
      [{ kind: 'number', unit: '%' }, 'DT_Scaling'],
      [{ kind: 'number', unit: 'ppm', class: 'co2' }, 'DT_Co2'],
      [{ kind: 'number', unit: 'Hz' }, 'DT_Number'],
      [{ kind: 'number' }, 'DT_Number'],
      [{ kind: 'enum', options: ['eco', 'comfort'] }, 'DT_String'],
      [{ kind: 'text' }, 'DT_String'],
      [{ kind: 'json' }, 'DT_String'],
    ];
    for (const [c, expected] of cases) expect(dataTypeFor(channel(c)), JSON.stringify(c)).toBe(expected);
    expect(dataTypeFor(undefined)).toBeUndefined();
    expect([familyOf('DT_Switch'), familyOf('DT_Temp'), familyOf('DT_kActiveEnergy'), familyOf('DT_String'), familyOf('DT_Trigger')]).toEqual(['bool', 'number', 'number', 'string', 'trigger']);
  });

  it('domogik - (15.6) sensor values are converted for their data type: DT_Bool family 0/1, numbers finite, text as strings; what cannot be one is not published', () => {
    expect(encodeSensorValue('DT_Switch', true)).toBe(1);
    expect(encodeSensorValue('DT_Switch', false)).toBe(0);
    expect(encodeSensorValue('DT_Switch', 'maybe')).toBeUndefined();
    expect(encodeSensorValue('DT_Temp', 21.5)).toBe(21.5);
    expect(encodeSensorValue('DT_Temp', 'warm')).toBeUndefined();
    expect(encodeSensorValue('DT_Temp', Number.NaN)).toBeUndefined();
    expect(encodeSensorValue('DT_String', 'single')).toBe('single');
    expect(encodeSensorValue('DT_String', 5)).toBe('5');
    expect(encodeSensorValue('DT_String', true)).toBe('true');
    expect(encodeSensorValue('DT_String', { a: 1 })).toBe('{"a":1}');
    expect(encodeSensorValue('DT_String', null)).toBeUndefined();
    // No data type either side: as before descriptions, booleans as 0/1.
    expect(encodeSensorValue(undefined, true)).toBe(1);
    expect(encodeSensorValue(undefined, [1, 2])).toBe('[1,2]');
  });

  it('domogik - (15.6) the mapping keeps the data types Domogik declares (device.get), which take precedence over the description\'s', () => {
    const logger = { info: () => undefined } as never;
    const map = SensorMap.fromDevices(
      [
        {
          id: 8,
          parameters: { device: { value: 'thermo1' } },
          sensors: { relay: { id: 59, data_type: 'DT_Switch' }, level: { id: 61, data_type: 'not a data type' } },
          commands: { relay: { id: 80, parameters: [{ key: 'other', data_type: 'DT_Number' }, { key: 'value', data_type: 'DT_Switch' }] }, press: { id: 81, parameters: [] } },
        },
      ],
      logger,
    );
    expect(map.sensor('thermo1', 'relay')).toEqual({ id: 59, dataType: 'DT_Switch' });
    expect(map.sensor('thermo1', 'level')).toEqual({ id: 61, dataType: undefined });
    expect(map.command(80)).toMatchObject({ channel: 'relay', dataType: 'DT_Switch' });
    expect(map.command(81)).toMatchObject({ channel: 'press', dataType: undefined });
    expect(SensorMap.fromOptions({ sensors: { 'thermo1.relay': 3 }, commands: {}, deviceIds: {} }).sensor('thermo1', 'relay')).toEqual({ id: 3, dataType: undefined });
  });

  it('domogik - the options\' sensor keys split at their last dot, and fill in only what Domogik did not define', () => {
    const logger = { info: () => undefined } as never;
    const defined = SensorMap.fromDevices([{ id: 8, parameters: { device: { value: 'thermo1' } }, sensors: { relay: { id: 59, data_type: 'DT_Switch' } }, commands: {} }], logger);
    const map = SensorMap.fromOptions({ sensors: { 'hall.thermo1.temperature': 4, 'thermo1.relay': 5, 'thermo1.level': 6 }, commands: {}, deviceIds: {} }, defined);
    expect(map.sensor('hall.thermo1', 'temperature')).toEqual({ id: 4, dataType: undefined });
    expect(map.sensor('hall', 'thermo1.temperature')).toBeUndefined();
    expect(map.sensor('thermo1', 'relay')).toEqual({ id: 59, dataType: 'DT_Switch' });
    expect(map.sensor('thermo1', 'level')).toEqual({ id: 6, dataType: undefined });
    expect(map.entries()).toEqual([
      [{ device: 'thermo1', channel: 'relay' }, 59],
      [{ device: 'hall.thermo1', channel: 'temperature' }, 4],
      [{ device: 'thermo1', channel: 'level' }, 6],
    ]);
  });
});
