import type { ChannelDescription, JsonValue } from '@patchbay/core';

/**
 * Domogik data types: what a Domogik sensor or command parameter holds, as Domogik names them
 * (domogik/domogik `src/domogik/common/datatypes.json`, branch develop 87a9668). Each type
 * has a parent (`DT_Switch` → `DT_Bool`, `DT_Temp` → `DT_Number`); Domogik's UIs draw and
 * send values by the family, so the conversions here go by the family too.
 */

/** `DT_Bool` and its children: `0`/`1` on the wire ("0 (Off) | 1 (On)" in datatypes.json). */
const BOOL_FAMILY: ReadonlySet<string> = new Set([
  'DT_Bool', 'DT_Switch', 'DT_Enable', 'DT_Binary', 'DT_Step', 'DT_UpDown', 'DT_OpenClose', 'DT_Start', 'DT_State', 'DT_Motion',
]);

/** `DT_Number` and its descendants (`DT_Scaling` → `DT_Humidity`, `DT_Battery`). */
const NUMBER_FAMILY: ReadonlySet<string> = new Set([
  'DT_Number', 'DT_Scaling', 'DT_Humidity', 'DT_Battery', 'DT_Angle', 'DT_Brightness', 'DT_Temp', 'DT_TempK', 'DT_TempF',
  'DT_Pressure', 'DT_mbarPressure', 'DT_barPressure', 'DT_AirQuality', 'DT_Volt', 'DT_mVolt', 'DT_kVolt', 'DT_Current',
  'DT_mCurrent', 'DT_kCurrent', 'DT_Power', 'DT_mPower', 'DT_kPower', 'DT_ActiveEnergy', 'DT_mActiveEnergy',
  'DT_kActiveEnergy', 'DT_ApparantEnergy', 'DT_Speed', 'DT_kmhSpeed', 'DT_rpmSpeed', 'DT_ktsSpeed', 'DT_Year', 'DT_Month',
  'DT_Day', 'DT_Hour', 'DT_Minute', 'DT_Second', 'DT_mSecond', 'DT_Timestamp', 'DT_mMeter', 'DT_Meter', 'DT_kMeter',
  'DT_mMeterHour', 'DT_Byte', 'DT_kByte', 'DT_MByte', 'DT_GByte', 'DT_pH', 'DT_Chlorine', 'DT_Co2', 'DT_Tvoc',
  'DT_Insolation', 'DT_kgWeight', 'DT_VolumeLiter', 'DT_VolumeM3',
]);

/** How a data type's values travel. */
export type DataTypeFamily = 'bool' | 'number' | 'string' | 'trigger';

/** The family of a Domogik data type; every type that is neither bool, number nor trigger is stored as text. */
export function familyOf(dataType: string): DataTypeFamily {
  if (BOOL_FAMILY.has(dataType)) return 'bool';
  if (NUMBER_FAMILY.has(dataType)) return 'number';
  if (dataType === 'DT_Trigger') return 'trigger';
  return 'string';
}

/** Number data types by unit symbol (datatypes.json's `unit`), for a number channel. */
const BY_UNIT: Readonly<Record<string, string>> = {
  '°C': 'DT_Temp',
  '°F': 'DT_TempF',
  K: 'DT_TempK',
  W: 'DT_Power',
  mW: 'DT_mPower',
  kW: 'DT_kPower',
  Wh: 'DT_ActiveEnergy',
  mWh: 'DT_mActiveEnergy',
  kWh: 'DT_kActiveEnergy',
  VAh: 'DT_ApparantEnergy',
  V: 'DT_Volt',
  mV: 'DT_mVolt',
  kV: 'DT_kVolt',
  A: 'DT_Current',
  mA: 'DT_mCurrent',
  kA: 'DT_kCurrent',
  Pa: 'DT_Pressure',
  hPa: 'DT_mbarPressure',
  mbar: 'DT_mbarPressure',
  bar: 'DT_barPressure',
  lx: 'DT_Brightness',
  lux: 'DT_Brightness',
  'm/s': 'DT_Speed',
  'km/h': 'DT_kmhSpeed',
  ppb: 'DT_Tvoc',
  L: 'DT_VolumeLiter',
  'm³': 'DT_VolumeM3',
  kg: 'DT_kgWeight',
};

/**
 * The Domogik data type for a channel, from the core's description: boolean channels by
 * class (a switch is `DT_Switch`, a door `DT_OpenClose`), numbers by unit then class
 * (`°C` → `DT_Temp`, `kWh` → `DT_kActiveEnergy`, `%` humidity → `DT_Humidity`), the rest as
 * `DT_String`. Undefined for an undescribed channel: Domogik's own declaration (info.json)
 * then stands alone.
 */
export function dataTypeFor(channel: ChannelDescription | undefined): string | undefined {
  if (!channel) return undefined;
  switch (channel.kind) {
    case 'boolean':
      switch (channel.class) {
        case 'switch':
        case 'light':
          return 'DT_Switch';
        case 'door':
        case 'window':
        case 'lock':
          return 'DT_OpenClose';
        case 'motion':
        case 'occupancy':
          return 'DT_Motion';
        default:
          return 'DT_Bool';
      }
    case 'number': {
      const byUnit = channel.unit === undefined ? undefined : BY_UNIT[channel.unit];
      if (byUnit) return byUnit;
      if (channel.unit === '%') return channel.class === 'humidity' ? 'DT_Humidity' : channel.class === 'battery' ? 'DT_Battery' : 'DT_Scaling';
      if (channel.unit === 'ppm') return channel.class === 'co2' ? 'DT_Co2' : 'DT_AirQuality';
      if (channel.unit === undefined && channel.class === 'temperature') return 'DT_Temp';
      if (channel.unit === undefined && channel.class === 'humidity') return 'DT_Humidity';
      return 'DT_Number';
    }
    default:
      // enum, text, json and momentary events: Domogik stores them as text.
      return 'DT_String';
  }
}

/** A value as `client.sensor` carries it (§7.5): a JSON number or string. */
export type SensorValue = number | string;

/**
 * A device's value as Domogik stores it for `dataType` (§7.5): a `DT_Bool` family sensor
 * gets `1`/`0`, a number family one a finite number, a text one a string (JSON for
 * structures). Undefined when the value cannot be one (`null`, a word for a number sensor):
 * such a value is not published, since xplgw would store it as a reading.
 */
export function encodeSensorValue(dataType: string | undefined, value: JsonValue | undefined): SensorValue | undefined {
  if (value === null || value === undefined) return undefined;
  switch (dataType === undefined ? undefined : familyOf(dataType)) {
    case 'bool':
      if (typeof value === 'boolean') return value ? 1 : 0;
      return value === 0 || value === 1 ? value : undefined;
    case 'number':
      if (typeof value === 'boolean') return value ? 1 : 0;
      return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
    case 'string':
    case 'trigger':
      if (typeof value === 'string') return value;
      return typeof value === 'object' ? JSON.stringify(value) : String(value);
    default:
      // No data type known either side: booleans as Domogik's 0/1, scalars as they are.
      if (typeof value === 'boolean') return value ? 1 : 0;
      if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
      return typeof value === 'string' ? value : JSON.stringify(value);
  }
}
