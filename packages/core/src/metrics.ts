/** A monotonically increasing counter, bound to one endpoint by the app. */
export interface Counter {
  inc(amount?: number): void;
}

/**
 * Where plugins count things (bad frames, reconnects...). The app backs it with prom-client
 * and binds an `endpoint` label; the core only sees this interface.
 */
export interface MetricsSink {
  counter(name: string, help: string, labels: Readonly<Record<string, string>>): Counter;
}

const noopCounter: Counter = { inc: () => undefined };

/** A sink that counts nothing. */
export const noopMetrics: MetricsSink = { counter: () => noopCounter };
