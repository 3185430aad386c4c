import type { Availability } from './description.js';
import { newEventId, type AvailabilityEvent } from './events.js';
import type { Logger } from './logger.js';
import type { DeviceRuntime } from './runtime.js';
import type { StateStore } from './stateStore.js';

/** What the tracker needs from the gateway. */
export interface AvailabilityTrackerOptions {
  store: StateStore;
  logger: Logger;
  /** True while the gateway stops: devices going offline then is expected, and no timer is armed. */
  isStopping(): boolean;
  /** Route an availability event to the device's hosts. */
  publish(device: DeviceRuntime, event: AvailabilityEvent): void;
}

/**
 * Each device's availability: `offline` while its driver is not alive or says the device does
 * not answer, `stale` once it has been silent for `staleAfterMs`, else `online`. A change is
 * one log line and one event to the device's hosts.
 */
export class AvailabilityTracker {
  constructor(private readonly options: AvailabilityTrackerOptions) {}

  /** The device just reported: it is not silent, and not offline by its driver's word. */
  heard(device: DeviceRuntime): void {
    // The hot path: a device that is online costs one comparison per report.
    if (device.availability === 'online') return;
    device.silent = false;
    device.reportedOffline = undefined;
    this.update(device);
  }

  /** Works the device's availability out again (its driver's status or word changed). */
  update(device: DeviceRuntime): void {
    let availability: Availability;
    let reason: string | undefined;
    const { status, reason: statusReason } = device.supervisor;
    if (status !== 'alive') {
      availability = 'offline';
      reason = `driver ${status}${statusReason ? `: ${statusReason}` : ''}`;
    } else if (device.reportedOffline !== undefined) {
      availability = 'offline';
      reason = device.reportedOffline;
    } else if (device.silent) {
      availability = 'stale';
      reason = `nothing reported for ${device.staleAfterMs} ms`;
    } else {
      availability = 'online';
    }
    if (availability === 'online' && status === 'alive') this.arm(device);
    else if (availability === 'offline') this.clear(device);
    if (availability === device.availability && reason === device.availabilityReason) return;
    const { store, logger } = this.options;
    const previous = device.availability;
    device.availability = availability;
    device.availabilityReason = reason;
    store.setAvailability(device.id, availability, reason);
    if (availability !== previous) {
      const line = `device ${device.id} is ${availability}${reason ? ` (${reason})` : ''}`;
      // A device stopping with the gateway is expected: info, not a warning.
      if (availability === 'online' || this.options.isStopping()) logger.info({ device: device.id, availability }, line);
      else logger.warn({ device: device.id, availability, reason }, line);
    }
    const now = Date.now();
    this.options.publish(device, { kind: 'availability', id: newEventId(now), time: now, origin: device.id, device: device.id, availability, reason, lastSeen: store.lastSeen(device.id) });
  }

  /**
   * One timer per device, re-armed lazily: when it fires it looks at when the device was last
   * heard from and either sleeps the rest of the period or marks it stale. A report costs
   * nothing but the store's timestamp, however often it comes.
   */
  arm(device: DeviceRuntime): void {
    if (device.staleTimer !== undefined || device.staleAfterMs === undefined || this.options.isStopping() || device.silent) return;
    const check = (): void => {
      device.staleTimer = undefined;
      const period = device.staleAfterMs;
      if (period === undefined || this.options.isStopping() || device.supervisor.status !== 'alive') return;
      const quiet = Date.now() - (this.options.store.lastSeen(device.id) ?? 0);
      if (quiet >= period) {
        device.silent = true;
        this.update(device);
        return;
      }
      device.staleTimer = setTimeout(check, period - quiet);
      device.staleTimer.unref?.();
    };
    device.staleTimer = setTimeout(check, device.staleAfterMs);
    device.staleTimer.unref?.();
  }

  /** Drop the device's stale timer (it went offline, was removed, or the gateway stops). */
  clear(device: DeviceRuntime): void {
    if (device.staleTimer !== undefined) clearTimeout(device.staleTimer);
    device.staleTimer = undefined;
  }
}
