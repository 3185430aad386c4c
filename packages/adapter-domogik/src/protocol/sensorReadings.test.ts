import type { OutboundEvent } from '@patchbay/core';
import { captureLogger } from '@patchbay/core/mock';
import { describe, expect, it } from 'vitest';
import { SensorMap } from './mapping.js';
import { SensorReadings } from './sensorReadings.js';

function rig() {
  const log = captureLogger();
  let unmapped = 0;
  let mapping = SensorMap.fromOptions({ sensors: { 'a.t': 57, 'a.press': 58, 'b.t': 60 }, commands: {}, deviceIds: {} });
  const readings = new SensorReadings({ mapping: () => mapping, ctx: { description: () => undefined, logger: log.logger }, unmapped: { inc: () => void unmapped++ } });
  return { readings, log, unmapped: () => unmapped, remap: (next: SensorMap) => (mapping = next) };
}

const T0 = 1_700_000_000_000;
/** `a.t` = 21.5 at `time`, as an event of `kind`. */
function reading(key: string, value: number | string, options: { kind?: 'state' | 'momentary'; time?: number } = {}): Extract<OutboundEvent, { kind: 'state' | 'momentary' }> {
  const [device, channel] = key.split('.') as [string, string];
  return { kind: options.kind ?? 'state', id: `${key}=${value}`, time: options.time ?? T0, origin: device, device, channel, value } as Extract<OutboundEvent, { kind: 'state' | 'momentary' }>;
}
const state = (key: string, value: number, time = T0) => reading(key, value, { time });
const press = (key: string, value: string) => reading(key, value, { kind: 'momentary' });

describe('domogik protocol - sensor readings', () => {
  it('domogik protocol - (20) a batch is one client.sensor message per timestamp, a sensor at most once in each, in the JSON the single message has', () => {
    const { readings } = rig();
    const messages = readings.messages([
      state('a.t', 21.5),
      press('a.press', 'single'),
      press('a.press', 'double'),
      state('b.t', 19),
      state('b.t', 19.5, 1_700_000_001_000),
    ]);
    expect(messages.map((m) => JSON.stringify(m))).toEqual([
      '{"57":21.5,"58":"single","atTimestamp":1700000000}',
      '{"58":"double","60":19,"atTimestamp":1700000000}',
      '{"60":19.5,"atTimestamp":1700000001}',
    ]);
    expect(JSON.stringify(readings.message(state('a.t', 21.5)))).toBe('{"57":21.5,"atTimestamp":1700000000}');
  });

  it('domogik protocol - a reading with no sensor is counted each time and logged once per channel, and once more after the mapping is loaded again', () => {
    const { readings, log, unmapped, remap } = rig();
    expect(readings.messages([state('c.t', 1), state('c.t', 2), state('a.t', 3)]).map((m) => JSON.stringify(m))).toEqual(['{"57":3,"atTimestamp":1700000000}']);
    expect(readings.message(state('c.t', 4))).toBeUndefined();
    expect(unmapped()).toBe(3);
    expect(log.find(/c\.t has no Domogik sensor id; not published \(logged once\)/)).toHaveLength(1);
    remap(SensorMap.fromOptions({ sensors: { 'c.t': 70 }, commands: {}, deviceIds: {} }));
    readings.mappingLoaded();
    expect(readings.messages([state('c.t', 5), state('a.t', 6)]).map((m) => JSON.stringify(m))).toEqual(['{"70":5,"atTimestamp":1700000000}']);
    expect(log.find(/a\.t has no Domogik sensor id/)).toHaveLength(1);
  });
});
