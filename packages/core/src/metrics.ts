/** A monotonically increasing counter, bound to one endpoint by the app. */
export interface Counter {
  inc(amount?: number): void;
}

/** A distribution of observations (seconds), bound to its labels once: observing allocates nothing. */
export interface Histogram {
  observe(value: number): void;
}

/**
 * Bucket bounds (seconds) for latencies inside the gateway: from a tenth of a millisecond (an
 * in-process hop) to a minute (a host down, retrying with back-off).
 */
export const latencyBuckets: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Where plugins and the core count things (bad frames, reconnects, latencies). The app backs it
 * with prom-client; labels follow one scheme: `host` and `adapter` for a host's, `device` and
 * `driver` for a device's, plus `reason` where a count is split by one. A counter or histogram
 * is created when asked for, at zero, so it shows on `/metrics` before its first use.
 */
export interface MetricsSink {
  counter(name: string, help: string, labels: Readonly<Record<string, string>>): Counter;
  /** Optional: a sink without it gets no latency figures. */
  histogram?(spec: HistogramSpec): Histogram;
}

/** What a histogram is: its name, help, the labels it is bound to and its bucket bounds (seconds), as prom-client takes them. */
export interface HistogramSpec {
  name: string;
  help: string;
  labels: Readonly<Record<string, string>>;
  buckets: readonly number[];
}

const noopCounter: Counter = { inc: () => undefined };

/** A sink that counts nothing (and, having no `histogram`, costs the outboxes no clock reads). */
export const noopMetrics: MetricsSink = { counter: () => noopCounter };
