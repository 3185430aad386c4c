/**
 * The parts of the core's device descriptions this adapter reads, as plain types so that the
 * protocol code stays pure and testable on its own.
 */
import type { JsonValue } from '@patchbay/core';

export type ChannelKind = 'number' | 'boolean' | 'enum' | 'text' | 'json' | 'event';

export interface ChannelInfo {
  kind: ChannelKind;
  name?: string;
  unit?: string;
  min?: number;
  max?: number;
  step?: number;
  options?: string[];
  writable: boolean;
  class?: string;
  stateClass?: string;
}

export interface DeviceInfoDescription {
  name: string;
  manufacturer?: string;
  model?: string;
  firmware?: string;
  channels: Record<string, ChannelInfo>;
  actions?: Record<string, { name?: string }>;
}

export type { JsonValue };
