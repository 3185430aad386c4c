import type { Logger } from '@patchbay/core';
import type { JsonObject } from './wire.js';

/** A Patchbay device channel. */
export interface ChannelRef {
  device: string;
  channel: string;
}

/** A command id's target, with the Domogik device it belongs to when known. */
export interface CommandTarget extends ChannelRef {
  domogikDevice: number | undefined;
  /** The data type Domogik declares for the command's parameter (`DT_Switch`), when it said. */
  dataType?: string | undefined;
}

/** A mapped sensor: its Domogik id, and the data type Domogik stores it as, when it said. */
export interface SensorRef {
  id: number;
  dataType: string | undefined;
}

function dataTypeOf(value: unknown): string | undefined {
  return typeof value === 'string' && /^DT_\w{1,64}$/.test(value) ? value : undefined;
}

/** A command's parameter data type: the `value` parameter's, else the first one's (§7.4). */
function parameterDataType(parameters: unknown): string | undefined {
  if (!Array.isArray(parameters)) return undefined;
  const list = parameters.filter((p): p is { key?: unknown; data_type?: unknown } => typeof p === 'object' && p !== null);
  return dataTypeOf((list.find((p) => p.key === 'value') ?? list[0])?.data_type);
}

function splitKey(key: string): ChannelRef {
  const dot = key.lastIndexOf('.');
  return { device: key.slice(0, dot), channel: key.slice(dot + 1) };
}

function toId(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : undefined;
}

/**
 * How Domogik sees Patchbay's devices (ARCHITECTURE.md "How each host sees a device"): sensor
 * ids for `client.sensor` keys and command ids of `client.cmd`, both keyed by channel name.
 */
export class SensorMap {
  private readonly sensors = new Map<string, SensorRef>();
  private readonly commands = new Map<number, CommandTarget>();
  private readonly domogikDevices = new Set<number>();

  /** The sensor id of a device channel. */
  sensorId(device: string, channel: string): number | undefined {
    return this.sensors.get(device + '\u0000' + channel)?.id;
  }

  /** The sensor of a device channel, with its Domogik data type. */
  sensor(device: string, channel: string): SensorRef | undefined {
    return this.sensors.get(device + '\u0000' + channel);
  }

  /** The channel a command id drives. */
  command(commandId: number): CommandTarget | undefined {
    return this.commands.get(commandId);
  }

  /** True when some Domogik device ids are known (then `device_id` is checked). */
  get checksDevices(): boolean {
    return this.domogikDevices.size > 0;
  }

  /** True when `id` is a known Domogik device. */
  hasDomogikDevice(id: number): boolean {
    return this.domogikDevices.has(id);
  }

  /** How many sensors are mapped. */
  get size(): number {
    return this.sensors.size;
  }

  /** Every mapped sensor, for tests and logs. */
  entries(): [ChannelRef, number][] {
    return [...this.sensors].map(([key, sensor]) => {
      const [device, channel] = key.split('\u0000') as [string, string];
      return [{ device, channel }, sensor.id];
    });
  }

  private addSensor(ref: ChannelRef, id: number, dataType?: string): void {
    this.addSensorKey(ref.device + '\u0000' + ref.channel, id, dataType);
  }

  private addSensorKey(key: string, id: number, dataType?: string): void {
    if (!this.sensors.has(key)) this.sensors.set(key, { id, dataType });
  }

  private addCommand(id: number, target: CommandTarget): void {
    if (!this.commands.has(id)) this.commands.set(id, target);
  }

  /** From the adapter options (`{"thermo1.temperature": 57}`), when Domogik holds no definitions. */
  static fromOptions(options: { sensors: Record<string, number>; commands: Record<string, number>; deviceIds: Record<string, number> }, into = new SensorMap()): SensorMap {
    // Every channel of every device (30,000 at N = 10,000), at each start: keyed straight from
    // the option's key, without a ref object and an entry pair for each.
    const { sensors } = options;
    for (const key of Object.keys(sensors)) {
      const dot = key.lastIndexOf('.');
      into.addSensorKey(key.slice(0, dot) + '\u0000' + key.slice(dot + 1), sensors[key] as number);
    }
    for (const [key, id] of Object.entries(options.commands)) {
      const ref = splitKey(key);
      into.addCommand(id, { ...ref, domogikDevice: options.deviceIds[ref.device] });
    }
    for (const id of Object.values(options.deviceIds)) into.domogikDevices.add(id);
    return into;
  }

  /**
   * From a `device.get` reply (§7.4): the Domogik device whose `device` parameter (or, failing
   * that, `address`) names the Patchbay device; its sensors and commands keyed by channel name.
   */
  static fromDevices(devices: unknown, logger: Logger, into = new SensorMap()): SensorMap {
    if (!Array.isArray(devices)) return into;
    for (const raw of devices as unknown[]) {
      if (typeof raw !== 'object' || raw === null) continue;
      const device = raw as JsonObject;
      const domogikId = toId(device.id);
      const parameters = (device.parameters ?? {}) as Record<string, { value?: unknown } | undefined>;
      const name = parameters.device?.value ?? parameters.address?.value;
      if (typeof name !== 'string' || name === '') {
        logger.info({ domogikDevice: domogikId }, `domogik: device ${String(device.name ?? domogikId)} has no "device" or "address" parameter naming a Patchbay device; ignored`);
        continue;
      }
      if (domogikId !== undefined) into.domogikDevices.add(domogikId);
      for (const [channel, sensor] of Object.entries((device.sensors ?? {}) as Record<string, { id?: unknown; data_type?: unknown } | null>)) {
        const id = toId(sensor?.id);
        if (id !== undefined) into.addSensor({ device: name, channel }, id, dataTypeOf(sensor?.data_type));
      }
      for (const [channel, command] of Object.entries((device.commands ?? {}) as Record<string, { id?: unknown; parameters?: unknown } | null>)) {
        const id = toId(command?.id);
        if (id !== undefined) into.addCommand(id, { device: name, channel, domogikDevice: domogikId, dataType: parameterDataType(command?.parameters) });
      }
    }
    return into;
  }
}
