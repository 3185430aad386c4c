import type { Counter as CoreCounter, EndpointHealth, Gateway, GatewayHealth, Histogram as CoreHistogram, HistogramSpec, MetricsSink } from '@patchbay/core';
import { collectDefaultMetrics, Counter, Gauge, Registry, type MetricValueWithName } from 'prom-client';
import { CounterFamily, DEVICES_PER_SLICE, renderDeviceFigures, type DeviceFigure } from './exposition.js';

/** Every family of ours starts with this; process and Node.js figures keep their standard names. */
const PREFIX = 'patchbay_';

type Labels = Record<string, string>;

/** What every device has in health, one family each, written by {@link renderDeviceFigures}. */
const DEVICE_FIGURES: readonly DeviceFigure[] = [
  { name: `${PREFIX}device_up`, help: '1 when the device driver is alive', type: 'gauge', value: (d) => (d.status === 'alive' ? 1 : 0) },
  { name: `${PREFIX}device_online`, help: '1 when the device is online (not offline, not stale)', type: 'gauge', value: (d) => (d.availability === 'online' ? 1 : 0) },
  {
    name: `${PREFIX}device_last_report_age_seconds`,
    help: 'Time since the device last reported anything (absent until its first report)',
    type: 'gauge',
    value: (d, now) => (d.lastSeen === null ? undefined : Math.max(0, now - d.lastSeen) / 1000),
  },
  { name: `${PREFIX}device_events_total`, help: 'State and momentary events the device reported', type: 'counter', value: (d) => d.delivered },
  { name: `${PREFIX}device_commands_failed_total`, help: 'Commands to the device that ended in a failed reply', type: 'counter', value: (d) => d.failed },
  { name: `${PREFIX}device_restarts_total`, help: 'Supervisor restarts of the device driver', type: 'counter', value: (d) => d.restarts },
  {
    name: `${PREFIX}device_values_refused_total`,
    help: 'Values from a driver that did not fit the channel description (not routed)',
    type: 'counter',
    value: (d) => d.valuesRefused ?? 0,
  },
  { name: `${PREFIX}device_descriptions_refused_total`, help: 'Device descriptions refused for failing their schema', type: 'counter', value: (d) => d.descriptionsRefused ?? 0 },
];

/** Prometheus' own rules for names (prom-client's too). */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A turn of the event loop for everything else, between two slices of a scrape. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Prometheus metrics, named by its conventions (issue 14.1): counters end in `_total` and
 * exist at zero from the moment their endpoint does; labels are `host` and `adapter` for a
 * host, `device` and `driver` for a device, `reason` where a count is split; process figures
 * are prom-client's standard `process_*` and `nodejs_*`. Figures the gateway already keeps
 * (queues, counts, journal) are read from its health at scrape time, and counters and
 * histograms count into plain numbers, so the hot path only bumps them. The families that grow
 * with devices (counters, per-device figures) are written by `exposition.ts`, a slice of
 * devices per turn, not by prom-client (issue 20).
 */
export class Metrics implements MetricsSink {
  readonly registry = new Registry();
  private readonly counters = new Map<string, CounterFamily>();
  private readonly histograms = new Map<string, HistogramFamily>();
  private gateway: Gateway | undefined;
  /** One health read per scrape, shared by every family that needs it. */
  private scrape: { health: GatewayHealth | undefined } | undefined;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // prom-client names these gauges `_total`, which Prometheus keeps for counters (promtool
    // says so); the same figures remain by type in nodejs_active_handles and friends.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    this.healthFamilies();
  }

  /** Read gauges from this gateway. */
  watch(gateway: Gateway): void {
    this.gateway = gateway;
  }

  counter(name: string, help: string, labels: Readonly<Record<string, string>>): CoreCounter {
    const full = counterName(name);
    let family = this.counters.get(full);
    if (!family) {
      // As prom-client checks: a bad name here would make Prometheus refuse the whole scrape.
      if (!METRIC_NAME.test(full)) throw new Error(`Invalid metric name: ${full}`);
      for (const label of Object.keys(labels)) if (!LABEL_NAME.test(label) || label.startsWith('__')) throw new Error(`Invalid label name: ${label} (metric ${full})`);
      if (this.registry.getSingleMetric(full) !== undefined || DEVICE_FIGURES.some((f) => f.name === full)) throw new Error(`A metric with the name ${full} has already been registered.`);
      family = new CounterFamily(full, help, Object.keys(labels));
      this.counters.set(full, family);
    }
    // At zero now: a rate over it is defined before its first event.
    const series = family.child(labels);
    return {
      inc: (amount = 1) => {
        if (!(amount >= 0)) throw new Error(`It is not possible to decrease a counter (${full} by ${amount})`);
        series.value += amount;
      },
    };
  }

  /**
   * The text exposition, chunk by chunk: prom-client's families (process, Node.js, hosts,
   * histograms), then the counters and the per-device figures a slice at a time, with a turn
   * of the event loop between slices.
   */
  async *exposition(): AsyncGenerator<string> {
    // This scrape's one health read: prom-client's families read it from the cache in the same
    // synchronous pass (see health()), the device figures below from here.
    const health = this.health();
    yield await this.registry.metrics();
    for (const family of this.counters.values()) {
      for (const text of family.render(DEVICES_PER_SLICE)) {
        yield text;
        await nextTurn();
      }
    }
    if (health === undefined) return;
    for (const text of renderDeviceFigures(DEVICE_FIGURES, health.devices, { now: Date.now(), perSlice: DEVICES_PER_SLICE })) {
      yield text;
      await nextTurn();
    }
  }

  /** The whole exposition as one string. */
  async text(): Promise<string> {
    let text = '';
    for await (const chunk of this.exposition()) text += chunk;
    return text;
  }

  histogram({ name, help, labels, buckets }: HistogramSpec): CoreHistogram {
    const full = name.startsWith(PREFIX) ? name : PREFIX + name;
    let family = this.histograms.get(full);
    if (!family) {
      family = new HistogramFamily({ name: full, help, labelNames: Object.keys(labels), buckets });
      this.histograms.set(full, family);
      this.registry.registerMetric(family as unknown as Parameters<Registry['registerMetric']>[0]);
    }
    return family.child(labels);
  }

  private health(): GatewayHealth | undefined {
    // prom-client collects every family in one synchronous pass: one health read per scrape.
    if (this.scrape === undefined) {
      this.scrape = { health: this.gateway?.health() };
      queueMicrotask(() => (this.scrape = undefined));
    }
    return this.scrape.health;
  }

  /** Families read from the gateway's health at scrape time. */
  private healthFamilies(): void {
    const registers = [this.registry];
    const read = () => this.health();
    const hostLabels = (h: EndpointHealth) => ({ host: h.id, adapter: h.type });
    // Each family empties and refills itself from the one health read of the scrape.
    const fromHealth = <M extends { reset(): void }>(collect: (m: M, health: GatewayHealth) => void) =>
      function (this: M): void {
        this.reset();
        const health = read();
        if (health) collect(this, health);
      };
    // How a family fills itself: a function for one without labels, or its label names with it.
    type Fill<M> = ((m: M, health: GatewayHealth) => void) | { labelNames: string[]; collect: (m: M, health: GatewayHealth) => void };
    const labelled = <M,>(fill: Fill<M>) => (typeof fill === 'function' ? { labelNames: [], collect: fill } : fill);
    const gauge = (name: string, help: string, fill: Fill<Gauge<string>>) => {
      const { labelNames, collect } = labelled(fill);
      return new Gauge({ name: PREFIX + name, help, labelNames, registers, collect: fromHealth(collect) });
    };
    // A total the gateway keeps, exposed as a counter (it only goes up within one run).
    const total = (name: string, help: string, fill: Fill<Counter<string>>) => {
      const { labelNames, collect } = labelled(fill);
      return new Counter({ name: counterName(name), help, labelNames, registers, collect: fromHealth(collect) });
    };
    // One sample per host that has the figure, under its labels.
    const perHost = (pickValue: (e: EndpointHealth) => number | undefined) => ({
      labelNames: ['host', 'adapter'],
      collect: (m: Gauge<string> | Counter<string>, health: GatewayHealth) => {
        for (const e of health.hosts) {
          const value = pickValue(e);
          if (value !== undefined) (m as Gauge<string>).inc(hostLabels(e), value);
        }
      },
    });

    gauge('up', '1 when the gateway is ok (every endpoint alive, the journal writing), 0 when degraded', (g, h) => g.set(h.status === 'ok' ? 1 : 0));
    gauge('host_up', '1 when the host adapter is alive', perHost((h) => (h.status === 'alive' ? 1 : 0)));
    gauge('host_connected', '1 when a peer of the platform is there (a client, the callback, the bus), as the adapter reports it', perHost((h) => (h.connected === undefined ? undefined : h.connected ? 1 : 0)));
    gauge('host_peers', 'Peers of the platform connected to the host (clients, connections)', perHost((h) => h.peers));
    gauge('host_stalled', '1 while a delivery to the host has made no progress for gateway.stallTimeoutMs', perHost((h) => (h.stalled ? 1 : 0)));
    gauge('host_queued_events', 'Events waiting in the host outbox (the one in flight included)', perHost((h) => h.queued));
    gauge('host_oldest_queued_age_seconds', 'How long the oldest event waiting in the host outbox has waited (0 when none waits)', perHost((h) => (h.oldestQueuedMs ?? 0) / 1000));
    total('host_delivered_events', 'Events delivered to the host', perHost((h) => h.delivered));
    total('host_failed_events', 'Events the host refused for good (dropped)', perHost((h) => h.failed));
    total('host_delivery_retries', 'Delivery attempts that failed and were retried', perHost((h) => h.retries));
    total('host_restarts', 'Supervisor restarts of the host adapter', perHost((h) => h.restarts));

    total('events_routed', 'Events routed by the core', (c) => c.inc(this.gateway?.routed ?? 0));
    gauge('journal_bytes', 'Bytes of the journal files on disk', (g, h) => {
      if (h.journal) g.set(h.journal.bytes);
    });
    gauge('journal_segments', 'Journal segment files on disk', (g, h) => {
      if (h.journal) g.set(h.journal.segments);
    });
    gauge('journal_degraded', '1 while the journal cannot write (commands needing it are refused)', (g, h) => {
      if (h.journal) g.set(h.journal.status === 'degraded' ? 1 : 0);
    });
    total('journal_write_errors', 'Journal writes (batches) that failed', (c, h) => {
      if (h.journal) c.inc(h.journal.writeErrors);
    });
    total('journal_records_not_journaled', 'Records that could not be journaled (routed from memory)', (c, h) => {
      if (h.journal) c.inc(h.journal.notJournaled);
    });
    gauge('input_buffered_bytes', 'Unfinished client input held by every listener together (the gateway-wide input budget in use)', (g, h) => g.set(h.input.bufferedBytes));
    gauge('input_budget_bytes', 'The gateway-wide input budget (gateway.maxBufferedBytes)', (g, h) => g.set(h.input.limitBytes));
    total('input_refused', 'Input refused because the gateway-wide input budget was spent (each a message refused and its connection closed)', (c, h) => c.inc(h.input.refused));
  }
}

/** `patchbay_` first and `_total` last, whatever a plugin passed. */
function counterName(name: string): string {
  const prefixed = name.startsWith(PREFIX) ? name : PREFIX + name;
  return prefixed.endsWith('_total') ? prefixed : `${prefixed}_total`;
}

/** The values of these label names; a missing one is empty, an extra one ignored (prom-client refuses unknown names). */
function pick(names: readonly string[], labels: Readonly<Labels>): Labels {
  const out: Labels = {};
  for (const name of names) out[name] = labels[name] ?? '';
  return out;
}

/**
 * A histogram family whose children count into preallocated arrays: `observe` finds the
 * bucket and adds, with no allocation (prom-client's own hashes the labels on every call).
 * Registered with prom-client as a metric of type `histogram` and read at scrape time.
 */
class HistogramFamily {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly children = new Map<string, { labels: Labels; counts: Float64Array; sum: { value: number } }>();

  // prom-client's registry reads name, help and labelNames off the family itself.
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  private readonly buckets: readonly number[];

  constructor(spec: { name: string; help: string; labelNames: readonly string[]; buckets: readonly number[] }) {
    this.name = spec.name;
    this.help = spec.help;
    this.labelNames = spec.labelNames;
    this.buckets = spec.buckets;
  }

  child(labels: Readonly<Labels>): CoreHistogram {
    const picked = pick(this.labelNames, labels);
    const key = this.labelNames.map((n) => picked[n]).join('\u0000');
    let child = this.children.get(key);
    if (!child) {
      // One slot per bound, plus +Inf.
      child = { labels: picked, counts: new Float64Array(this.buckets.length + 1), sum: { value: 0 } };
      this.children.set(key, child);
    }
    const { counts, sum } = child;
    const bounds = this.buckets;
    const last = bounds.length;
    return {
      observe(value: number): void {
        let i = 0;
        while (i < last && value > (bounds[i] as number)) i++;
        counts[i] = (counts[i] as number) + 1;
        sum.value += value;
      },
    };
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValueWithName<string>[] } {
    const values: MetricValueWithName<string>[] = [];
    for (const { labels, counts, sum } of this.children.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += counts[i] as number;
        const le = i < this.buckets.length ? String(this.buckets[i]) : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: cumulative });
      }
      values.push({ metricName: `${this.name}_sum`, labels, value: sum.value });
      values.push({ metricName: `${this.name}_count`, labels, value: cumulative });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const child of this.children.values()) {
      child.counts.fill(0);
      child.sum.value = 0;
    }
  }
}
