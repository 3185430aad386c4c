import type { Counter, MetricsSink } from '@patchbay/core';

/** A MetricsSink that keeps counts in memory, read back by name and endpoint. */
export class MemoryMetrics implements MetricsSink {
  private readonly values = new Map<string, number>();

  counter(name: string, _help: string, labels: Readonly<Record<string, string>>): Counter {
    // The core labels a driver's counters with its device, a host's with its host.
    const key = `${name}{${labels.device ?? labels.host ?? ''}}`;
    if (!this.values.has(key)) this.values.set(key, 0);
    return { inc: (amount = 1) => this.values.set(key, (this.values.get(key) ?? 0) + amount) };
  }

  get(name: string, endpoint: string): number {
    return this.values.get(`${name}{${endpoint}}`) ?? 0;
  }
}

/** The shared recording logger (`@patchbay/testing`). */
export { captureLogger } from '@patchbay/testing';

/** A seeded random source (mulberry32), so a failing run can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
