import type { PymodbusSlave } from '@patchbay/testing';

/**
 * The acceptance map: 20 channels of mixed types over two unit ids on one bus. Unit 1 is an
 * energy meter with a thermostat's setpoint; unit 2 a heat pump.
 */
export const meterChannels = {
  voltage: { table: 'input', address: 0, type: 'float32', unit: 'V', class: 'voltage', stateClass: 'measurement' },
  current: { table: 'input', address: 2, type: 'float32', unit: 'A', class: 'current', stateClass: 'measurement' },
  power: { table: 'input', address: 4, type: 'int32', unit: 'W', class: 'power', stateClass: 'measurement' },
  energy: { table: 'input', address: 6, type: 'uint32', scale: 0.01, unit: 'kWh', class: 'energy', stateClass: 'total_increasing' },
  frequency: { table: 'input', address: 8, type: 'uint16', scale: 0.01, unit: 'Hz', class: 'frequency' },
  temperature: { table: 'input', address: 10, type: 'int16', scale: 0.1, unit: '°C', class: 'temperature' },
  alarm: { table: 'discrete', address: 0 },
  door: { table: 'discrete', address: 1, class: 'door' },
  setpoint: { table: 'holding', address: 0, type: 'int16', scale: 0.5, unit: '°C', class: 'temperature', writable: true, min: 5, max: 30 },
  mode: { table: 'holding', address: 1, enum: { '0': 'off', '1': 'eco', '2': 'comfort' }, writable: true },
  running: { table: 'holding', address: 2, type: 'bool', bit: 0 },
  fault: { table: 'holding', address: 2, type: 'bool', bit: 3 },
  relay: { table: 'coil', address: 0, writable: true, class: 'switch' },
} as const;

export const pumpChannels = {
  fan: { table: 'holding', address: 0, type: 'uint16', unit: '%', writable: true },
  target: { table: 'holding', address: 1, type: 'float32', wordOrder: 'little', unit: '°C', class: 'temperature', writable: true },
  outdoor: { table: 'input', address: 0, type: 'int16', scale: 0.1, unit: '°C', class: 'temperature' },
  hours: { table: 'input', address: 1, type: 'uint32', unit: 'h', class: 'duration', stateClass: 'total_increasing' },
  pump: { table: 'coil', address: 0, writable: true, class: 'switch' },
  heater: { table: 'coil', address: 1 },
  flow: { table: 'discrete', address: 0, class: 'moisture' },
} as const;

/** The values the datastore starts with, and what the hosts must see. */
export const expected: Record<'meter' | 'pump', Record<string, number | boolean | string>> = {
  meter: {
    voltage: 230.5,
    current: 1.25,
    power: -1500,
    energy: 12345.67,
    frequency: 50.01,
    temperature: -4.5,
    alarm: false,
    door: true,
    setpoint: 20.5,
    mode: 'eco',
    running: true,
    fault: true,
    relay: false,
  },
  pump: { fan: 40, target: 45.5, outdoor: 12.3, hours: 70_000, pump: false, heater: true, flow: true },
};

const floatWords = (value: number): number[] => {
  const bytes = Buffer.alloc(4);
  bytes.writeFloatBE(value);
  return [bytes.readUInt16BE(0), bytes.readUInt16BE(2)];
};

/** Puts the expected values into the slave's datastore (after a start or restart). */
export async function seed(slave: PymodbusSlave): Promise<void> {
  await slave.set({ unit: 1, table: 'ir', address: 0 }, [...floatWords(230.5), ...floatWords(1.25), 0xffff, 0xfa24, 1_234_567 >>> 16, 1_234_567 & 0xffff, 5001, 0, 0xffd3]);
  await slave.set({ unit: 1, table: 'di', address: 0 }, [false, true]);
  await slave.set({ unit: 1, table: 'hr', address: 0 }, [41, 1, 0b1001]);
  await slave.set({ unit: 1, table: 'co', address: 0 }, [false]);
  const target = floatWords(45.5);
  await slave.set({ unit: 2, table: 'hr', address: 0 }, [40, target[1] as number, target[0] as number]);
  await slave.set({ unit: 2, table: 'ir', address: 0 }, [123, 70_000 >>> 16, 70_000 & 0xffff]);
  await slave.set({ unit: 2, table: 'co', address: 0 }, [false, true]);
  await slave.set({ unit: 2, table: 'di', address: 0 }, [true]);
}
