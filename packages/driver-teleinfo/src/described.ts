import type { DriverContext } from '@patchbay/core';

/*
 * The core's "described devices" contract (BRIEF.md), as far as this driver uses it. Until
 * `@patchbay/core` exports these, the driver codes against this local copy and calls the
 * context's new methods only when they exist, so it runs on either side of that change.
 */

/** What a channel carries. */
export type ChannelKind = 'number' | 'boolean' | 'enum' | 'text' | 'json' | 'event';
/** What a channel measures or controls (the core's list). */
export type ChannelClass =
  | 'temperature' | 'humidity' | 'pressure' | 'power' | 'apparent_power' | 'energy' | 'voltage' | 'current' | 'frequency'
  | 'illuminance' | 'co2' | 'battery' | 'signal_strength' | 'duration' | 'monetary' | 'switch' | 'button' | 'door'
  | 'window' | 'motion' | 'occupancy' | 'smoke' | 'moisture' | 'lock' | 'light' | 'tariff' | 'generic';
/** How a numeric channel evolves. */
export type StateClass = 'measurement' | 'total' | 'total_increasing';

/** One channel of a described device. */
export interface ChannelDescription {
  kind: ChannelKind;
  name?: string;
  unit?: string;
  min?: number;
  max?: number;
  step?: number;
  options?: string[];
  writable: boolean;
  class?: ChannelClass;
  stateClass?: StateClass;
}

/** A described device. */
export interface DeviceDescription {
  name: string;
  manufacturer?: string;
  model?: string;
  firmware?: string;
  reportIntervalMs?: number;
  channels: Record<string, ChannelDescription>;
  actions?: Record<string, { name?: string }>;
}

/** The classes, for config schemas. */
export const channelClasses = [
  'temperature', 'humidity', 'pressure', 'power', 'apparent_power', 'energy', 'voltage', 'current', 'frequency',
  'illuminance', 'co2', 'battery', 'signal_strength', 'duration', 'monetary', 'switch', 'button', 'door',
  'window', 'motion', 'occupancy', 'smoke', 'moisture', 'lock', 'light', 'tariff', 'generic',
] as const satisfies readonly ChannelClass[];

interface DescribedContext {
  describe?(description: DeviceDescription): void;
  availability?(state: 'online' | 'offline', reason?: string): void;
}

/** `ctx.describe(description)` where the core has it. */
export function describeDevice(ctx: DriverContext, description: DeviceDescription): void {
  (ctx as DriverContext & DescribedContext).describe?.(description);
}

/** `ctx.availability(state, reason)` where the core has it. */
export function reportAvailability(ctx: DriverContext, state: 'online' | 'offline', reason?: string): void {
  (ctx as DriverContext & DescribedContext).availability?.(state, reason);
}
