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
  private readonly sensors = new Map<string, number>();
  private readonly commands = new Map<number, CommandTarget>();
  private readonly domogikDevices = new Set<number>();

  /** The sensor id of a device channel. */
  sensorId(device: string, channel: string): number | undefined {
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
    return [...this.sensors].map(([key, id]) => {
      const [device, channel] = key.split('\u0000') as [string, string];
      return [{ device, channel }, id];
    });
  }

  private addSensor(ref: ChannelRef, id: number): void {
    const key = ref.device + '\u0000' + ref.channel;
    if (!this.sensors.has(key)) this.sensors.set(key, id);
  }

  private addCommand(id: number, target: CommandTarget): void {
    if (!this.commands.has(id)) this.commands.set(id, target);
  }

  /** From the adapter options (`{"thermo1.temperature": 57}`), when Domogik holds no definitions. */
  static fromOptions(options: { sensors: Record<string, number>; commands: Record<string, number>; deviceIds: Record<string, number> }, into = new SensorMap()): SensorMap {
    for (const [key, id] of Object.entries(options.sensors)) into.addSensor(splitKey(key), id);
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
      for (const [channel, sensor] of Object.entries((device.sensors ?? {}) as Record<string, { id?: unknown } | null>)) {
        const id = toId(sensor?.id);
        if (id !== undefined) into.addSensor({ device: name, channel }, id);
      }
      for (const [channel, command] of Object.entries((device.commands ?? {}) as Record<string, { id?: unknown } | null>)) {
        const id = toId(command?.id);
        if (id !== undefined) into.addCommand(id, { device: name, channel, domogikDevice: domogikId });
      }
    }
    return into;
  }
}
