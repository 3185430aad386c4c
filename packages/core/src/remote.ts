import type { DriverDefinition } from './definitions.js';
import { ErrorCodes, PatchbayError } from './errors.js';

/**
 * A device another gateway owns, shown to this gateway's hosts like one of its own (issue 19):
 * it is routed, stored, checked and timed out by this core as any device is; its driver stands
 * for the link to the owner (what the owner publishes comes in through the driver's context,
 * and `send` forwards each command to the owner).
 */
export interface RemoteDeviceSpec {
  /** The device id, unique across the installation. */
  id: string;
  /** The gateway that owns the device (shown as the device's `origin` in `/healthz` and to hosts). */
  origin: string;
  /**
   * The host that brought the device in (the cluster link). It is never routed the device, so
   * it cannot publish a remote device again as one of its own gateway's.
   */
  via: string;
  /** The stand-in driver; its options are `{}`. */
  definition: DriverDefinition;
}

/** Why `spec` cannot be added next to the devices already there, or undefined when it can. */
export function remoteDeviceProblem(spec: RemoteDeviceSpec, taken: (id: string) => { origin?: string | undefined } | undefined, hostIds: ReadonlySet<string>): PatchbayError | undefined {
  const holder = taken(spec.id);
  if (holder !== undefined) {
    const by = holder.origin === undefined ? 'a local device of this gateway' : `a device of gateway "${holder.origin}"`;
    return new PatchbayError(ErrorCodes.DEVICE_ID_TAKEN, `device id "${spec.id}" announced by gateway "${spec.origin}" is already taken by ${by}; refused`, {
      context: { device: spec.id, origin: spec.origin, holder: holder.origin ?? null },
    });
  }
  if (hostIds.has(spec.id)) {
    return new PatchbayError(ErrorCodes.DEVICE_ID_TAKEN, `device id "${spec.id}" announced by gateway "${spec.origin}" is a host id of this gateway; refused`, { context: { device: spec.id, origin: spec.origin } });
  }
  return undefined;
}
