import { quoteForLog, type DeviceDescriptionInput, type JsonValue, type ReplyInit } from '@patchbay/core';

/** Settings of the simulated device. */
export interface SimulatedDeviceOptions {
  /** Period of temperature and humidity reports, ms. */
  interval: number;
  /** Starting values. */
  initial: { temperature: number; humidity: number; relay: boolean };
  /** Random source in [0, 1): tests pass a seeded one. */
  random?: () => number;
  /**
   * Time from start to the first drift report, ms (one `interval` unless given); then one
   * every `interval`. The driver's `spread` option picks it at random in the first interval.
   */
  phase?: number;
}

/** A state report from the device. */
export type SimulatedReport = (channel: string, value: JsonValue) => void;

/** What the simulated device is, for the core's description (`ctx.describe`). */
export function simulatedDescription(interval: number): DeviceDescriptionInput {
  return {
    name: 'Simulated thermostat',
    manufacturer: 'Patchbay',
    model: 'sim',
    reportIntervalMs: interval,
    channels: {
      temperature: { kind: 'number', name: 'Temperature', unit: '°C', class: 'temperature', stateClass: 'measurement', min: -20, max: 50, step: 0.01 },
      humidity: { kind: 'number', name: 'Humidity', unit: '%', class: 'humidity', stateClass: 'measurement', min: 0, max: 100, step: 0.1 },
      relay: { kind: 'boolean', name: 'Relay', class: 'switch', writable: true },
      button: { kind: 'event', name: 'Button', class: 'button' },
    },
    actions: {
      refresh: { name: 'Report every channel now' },
      press: { name: 'Press the button' },
      mute: { name: 'Stop reporting (to see the device go stale)' },
      unmute: { name: 'Report again' },
    },
  };
}

const readOnly = new Set(['temperature', 'humidity']);

/**
 * The simulated device itself, independent of the core: the driver wraps it, and the serial
 * simulator (`patchbay sim --serial`) speaks it over a pseudo-terminal.
 * `temperature` and `humidity` drift by a bounded random walk every `interval` ms; `relay` is
 * a boolean changed by command and reported on change.
 */
export class SimulatedDevice {
  private temperature: number;
  private humidity: number;
  private relay: boolean;
  private timer: NodeJS.Timeout | undefined;
  private readonly random: () => number;
  /** Muted by the `mute` action: no reports until `unmute`, as a device that went quiet. */
  private muted = false;
  private presses = 0;

  constructor(
    private readonly options: SimulatedDeviceOptions,
    private readonly report: SimulatedReport,
  ) {
    this.temperature = options.initial.temperature;
    this.humidity = options.initial.humidity;
    this.relay = options.initial.relay;
    this.random = options.random ?? Math.random;
  }

  /** The channels this device has. */
  static readonly channels = ['temperature', 'humidity', 'relay'] as const;

  /** Report every channel now, then drift and report on the interval, from `phase`. */
  start(): void {
    this.reportAll();
    const { interval, phase = interval } = this.options;
    this.timer = setTimeout(() => {
      this.timer = setInterval(() => this.tick(), interval);
      this.tick();
    }, phase);
  }

  stop(): void {
    // clearTimeout clears the phase's timeout and the interval alike.
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Report every channel's current value. */
  reportAll(): void {
    if (this.muted) return;
    this.report('temperature', this.temperature);
    this.report('humidity', this.humidity);
    this.report('relay', this.relay);
  }

  /** One drift step; exposed so tests need not wait for the interval. */
  tick(): void {
    // Bounded random walks, rounded as a real sensor would report them.
    this.temperature = round(clamp(this.temperature + (this.random() - 0.5) * 0.4, -20, 50), 2);
    this.humidity = round(clamp(this.humidity + (this.random() - 0.5) * 1, 0, 100), 1);
    if (this.muted) return;
    this.report('temperature', this.temperature);
    this.report('humidity', this.humidity);
  }

  /** Apply a command to a channel (or the `refresh` action); the answer is the reply. */
  command(target: { channel?: string | undefined; action?: string | undefined; value?: JsonValue | undefined }): ReplyInit {
    if (target.action !== undefined) {
      switch (target.action) {
        case 'refresh':
          this.reportAll();
          return { ok: true };
        case 'press':
          // A momentary event: the button channel is described as kind `event`.
          this.presses++;
          this.report('button', 'single');
          return { ok: true, value: this.presses };
        case 'mute':
          this.muted = true;
          return { ok: true };
        case 'unmute':
          this.muted = false;
          this.reportAll();
          return { ok: true };
      }
      return { ok: false, error: `unknown action ${JSON.stringify(target.action).slice(0, 60)} (known: refresh, press, mute, unmute)` };
    }
    const channel = target.channel ?? '';
    if (channel === 'relay') {
      const next = toBoolean(target.value);
      if (next === undefined) return { ok: false, error: `relay takes a boolean (true/false, 1/0, "on"/"off"), got ${quoteForLog(target.value ?? null)}` };
      if (next !== this.relay) {
        this.relay = next;
        this.report('relay', next);
      }
      return { ok: true, value: next };
    }
    if (readOnly.has(channel)) return { ok: false, error: `channel "${channel}" is read-only` };
    return { ok: false, error: `unknown channel "${channel}" (known: ${SimulatedDevice.channels.join(', ')})` };
  }

  /** Current values, for tests and the serial simulator's greeting. */
  values(): { temperature: number; humidity: number; relay: boolean } {
    return { temperature: this.temperature, humidity: this.humidity, relay: this.relay };
  }
}

function toBoolean(value: JsonValue | undefined): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === 0) return value === 1;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (['1', 'true', 'on'].includes(v)) return true;
    if (['0', 'false', 'off'].includes(v)) return false;
  }
  return undefined;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
