import type { Availability, DeviceDescription } from './description.js';
import type { EndpointStatus, JsonValue, StateEvent } from './events.js';
import type { ChannelState, DeviceState, StateSnapshot } from './health.js';

interface DeviceRecord {
  device: string;
  status: EndpointStatus;
  lastSeen: number | null;
  availability: Availability;
  availabilityReason: string | undefined;
  description: DeviceDescription | undefined;
  // Mutable records updated in place: a state update allocates nothing once a channel exists.
  channels: Map<string, ChannelState>;
}

/** The latest value per device and channel, last seen and availability. */
export class StateStore {
  private readonly devices = new Map<string, DeviceRecord>();

  /** Make sure a device is known, so snapshots list it before it reports. */
  addDevice(device: string): void {
    if (!this.devices.has(device)) this.devices.set(device, {
        device,
        status: 'unknown',
        lastSeen: null,
        availability: 'offline',
        availabilityReason: 'not started',
        description: undefined,
        channels: new Map(),
      });
  }

  /** Forget a device (a remote one whose owner no longer announces it). */
  removeDevice(device: string): void {
    this.devices.delete(device);
  }

  /** Record a state event; the latest value wins. */
  apply(event: StateEvent): void {
    const { device, channel, value, time } = event;
    let record = this.devices.get(device);
    if (record === undefined) {
      this.addDevice(device);
      record = this.devices.get(device) as DeviceRecord;
    }
    const entry = record.channels.get(channel);
    if (entry === undefined) {
      record.channels.set(channel, { channel, value, time });
    } else {
      entry.value = value;
      entry.time = time;
    }
    if (record.lastSeen === null || time > record.lastSeen) record.lastSeen = time;
  }

  /** Record a device's status (availability follows from it). */
  setStatus(device: string, status: EndpointStatus): void {
    this.addDevice(device);
    (this.devices.get(device) as DeviceRecord).status = status;
  }

  /** Record what the device is. */
  setDescription(device: string, description: DeviceDescription): void {
    this.addDevice(device);
    (this.devices.get(device) as DeviceRecord).description = description;
  }

  /** What the device is, if its driver said. */
  description(device: string): DeviceDescription | undefined {
    return this.devices.get(device)?.description;
  }

  /** Record a device's availability. */
  setAvailability(device: string, availability: Availability, reason: string | undefined): void {
    this.addDevice(device);
    const record = this.devices.get(device) as DeviceRecord;
    record.availability = availability;
    record.availabilityReason = reason;
  }

  /** Last time the device reported anything. */
  lastSeen(device: string): number | null {
    return this.devices.get(device)?.lastSeen ?? null;
  }

  /** One channel's latest value, if any. */
  get(device: string, channel: string): ChannelState | undefined {
    return this.devices.get(device)?.channels.get(channel);
  }

  /** One device's channels with their latest values (live records: read, do not keep). */
  channels(device: string): Iterable<ChannelState> {
    return this.devices.get(device)?.channels.values() ?? [];
  }

  /** A copy of the current state of the given devices (all if omitted). */
  snapshot(devices?: Iterable<string>): StateSnapshot {
    const ids = devices ?? this.devices.keys();
    const out: DeviceState[] = [];
    for (const id of ids) {
      const record = this.devices.get(id);
      if (!record) continue;
      out.push({
        device: record.device,
        status: record.status,
        lastSeen: record.lastSeen,
        available: record.status === 'alive',
        availability: record.availability,
        ...(record.availabilityReason === undefined ? {} : { availabilityReason: record.availabilityReason }),
        ...(record.description === undefined ? {} : { description: record.description }),
        channels: [...record.channels.values()].map((c) => ({ channel: c.channel, value: c.value, time: c.time })),
      });
    }
    return { devices: out };
  }

  /** Every retained value as state events, for journal snapshots. */
  *states(): Generator<{ device: string; channel: string; value: JsonValue; time: number }> {
    for (const record of this.devices.values()) {
      for (const c of record.channels.values()) yield { device: record.device, channel: c.channel, value: c.value, time: c.time };
    }
  }
}
