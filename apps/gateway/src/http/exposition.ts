import type { EndpointHealth } from '@patchbay/core';

/**
 * The Prometheus text format for the families that grow with the installation: counters made
 * through the metrics sink (drivers' own, one or more per device) and the figures read per
 * device from health.
 * prom-client keeps a labels object and a hash string per series and formats each sample
 * through both: at 10,000 devices a scrape was 80,000 lines and 150 ms on the event loop, every
 * value meanwhile waiting (issue 20). Here each series keeps its label text, rendered once, and
 * a scrape writes strings in slices of devices, yielding to the event loop between them.
 */

/** Devices rendered per slice of a scrape: about a millisecond of work between two yields. */
export const DEVICES_PER_SLICE = 1000;

const DEVICE_LABELS = ['device', 'driver'] as const;

/** A label value as the text format writes it between quotes. */
export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}

/** `{name="value",…}`, or nothing without labels. */
export function labelText(labels: Readonly<Record<string, string>>, names: readonly string[]): string {
  if (names.length === 0) return '';
  let text = '{';
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    text += `${i === 0 ? '' : ','}${name}="${escapeLabelValue(labels[name] ?? '')}"`;
  }
  return `${text}}`;
}

/** A sample value as Prometheus reads it. */
export function sampleValue(value: number): string {
  if (Number.isFinite(value)) return String(value);
  return Number.isNaN(value) ? 'NaN' : value > 0 ? '+Inf' : '-Inf';
}

function familyHead(name: string, help: string, type: 'counter' | 'gauge'): string {
  return `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}\n`;
}

/** One series of a {@link CounterFamily}: its label text and its count. */
interface CounterSeries {
  readonly labels: string;
  value: number;
}

/** A counter family whose series count into plain numbers, each under its rendered labels. */
export class CounterFamily {
  private readonly series = new Map<string, CounterSeries>();
  private readonly head: string;

  constructor(
    readonly name: string,
    help: string,
    readonly labelNames: readonly string[],
  ) {
    this.head = familyHead(name, help, 'counter');
  }

  /** The series for these labels, made at zero on first ask (a missing label is empty, an extra one ignored). */
  child(labels: Readonly<Record<string, string>>): CounterSeries {
    const text = labelText(labels, this.labelNames);
    let series = this.series.get(text);
    if (series === undefined) {
      series = { labels: text, value: 0 };
      this.series.set(text, series);
    }
    return series;
  }

  /** The family's text, `perSlice` series at a time. */
  *render(perSlice: number): Generator<string> {
    let text = this.head;
    let n = 0;
    for (const { labels, value } of this.series.values()) {
      text += `${this.name}${labels} ${sampleValue(value)}\n`;
      if (++n % perSlice === 0) {
        yield text;
        text = '';
      }
    }
    if (text !== '') yield text;
  }
}

/** A figure every device has in health, exposed as one family with a sample per device. */
export interface DeviceFigure {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  /** The value for this device, or undefined for no sample (a figure it does not have yet). */
  value(device: EndpointHealth, now: number): number | undefined;
}

/**
 * The per-device families of one health read, family by family (a family's samples stay
 * together, as the format wants), `perSlice` devices at a time. Each device's label text is
 * made once per scrape, for all its families.
 */
export function* renderDeviceFigures(figures: readonly DeviceFigure[], devices: readonly EndpointHealth[], at: { now: number; perSlice: number }): Generator<string> {
  const { now, perSlice } = at;
  const labels = devices.map((d) => labelText({ device: d.id, driver: d.type }, DEVICE_LABELS));
  for (const figure of figures) {
    let text = familyHead(figure.name, figure.help, figure.type);
    for (let start = 0; start < devices.length; start += perSlice) {
      const end = Math.min(start + perSlice, devices.length);
      for (let i = start; i < end; i++) {
        const value = figure.value(devices[i] as EndpointHealth, now);
        if (value !== undefined) text += `${figure.name}${labels[i] as string} ${sampleValue(value)}\n`;
      }
      yield text;
      text = '';
    }
    if (text !== '') yield text;
  }
}
