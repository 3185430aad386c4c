import type { Counter as CoreCounter, Gateway, MetricsSink } from '@patchbay/core';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/**
 * Prometheus metrics on prom-client: counters the plugins create through their context
 * (labelled by endpoint), and gauges read from the gateway's health at scrape time, so the
 * hot path only bumps plain numbers.
 */
export class Metrics implements MetricsSink {
  readonly registry = new Registry();
  private readonly counters = new Map<string, Counter<'endpoint'>>();
  private gateway: Gateway | undefined;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'patchbay_process_' });
    const read = () => this.gateway?.health();
    const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge<string>) => void) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        collect() {
          this.reset();
          collect(this);
        },
      });
    gauge('patchbay_endpoint_up', '1 when the device or host is alive', ['endpoint', 'kind', 'type'], (g) => {
      const h = read();
      for (const e of [...(h?.devices ?? []), ...(h?.hosts ?? [])]) g.set({ endpoint: e.id, kind: e.kind, type: e.type }, e.status === 'alive' ? 1 : 0);
    });
    gauge('patchbay_host_queued', 'Events waiting in the host outbox', ['endpoint'], (g) => {
      for (const e of read()?.hosts ?? []) g.set({ endpoint: e.id }, e.queued);
    });
    gauge('patchbay_host_delivered', 'Events delivered to the host since start', ['endpoint'], (g) => {
      for (const e of read()?.hosts ?? []) g.set({ endpoint: e.id }, e.delivered);
    });
    gauge('patchbay_host_failed', 'Events the host rejected for good since start', ['endpoint'], (g) => {
      for (const e of read()?.hosts ?? []) g.set({ endpoint: e.id }, e.failed);
    });
    gauge('patchbay_host_retries', 'Delivery retries since start', ['endpoint'], (g) => {
      for (const e of read()?.hosts ?? []) g.set({ endpoint: e.id }, e.retries);
    });
    gauge('patchbay_endpoint_restarts', 'Supervisor restarts since start', ['endpoint'], (g) => {
      const h = read();
      for (const e of [...(h?.devices ?? []), ...(h?.hosts ?? [])]) g.set({ endpoint: e.id }, e.restarts);
    });
    gauge('patchbay_device_events', 'State events the device reported since start', ['endpoint'], (g) => {
      for (const e of read()?.devices ?? []) g.set({ endpoint: e.id }, e.delivered);
    });
    gauge('patchbay_events_routed', 'Events routed by the core since start', [], (g) => g.set(this.gateway?.routed ?? 0));
  }

  /** Read gauges from this gateway. */
  watch(gateway: Gateway): void {
    this.gateway = gateway;
  }

  counter(name: string, help: string, labels: Readonly<Record<string, string>>): CoreCounter {
    let counter = this.counters.get(name);
    if (!counter) {
      counter = new Counter({ name, help, labelNames: ['endpoint'], registers: [this.registry] });
      this.counters.set(name, counter);
    }
    const child = counter.labels({ endpoint: labels.endpoint ?? '' });
    return { inc: (amount = 1) => child.inc(amount) };
  }
}
