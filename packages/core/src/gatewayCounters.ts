import type { ErrorCode } from './errors.js';
import type { Counter, MetricsSink } from './metrics.js';
import type { HostRuntime } from './runtime.js';

/**
 * The gateway's counters by endpoint, each made once per name and labels (refusals are not on
 * the hot path, but bursts are), so that asking for one again costs a map lookup.
 */
export class GatewayCounters {
  private readonly counters = new Map<string, Counter>();

  constructor(private readonly metrics: MetricsSink) {}

  host(host: HostRuntime, which: 'stalls' | 'expired'): Counter {
    const labels = { host: host.id, adapter: host.type };
    return which === 'stalls'
      ? this.counterFor('patchbay_host_stalls_total', 'Times a host made no delivery progress for gateway.stallTimeoutMs', labels)
      : this.counterFor('patchbay_host_momentary_events_expired_total', 'Momentary events dropped undelivered past gateway.eventTtlMs', labels);
  }

  /** Commands a host sent that the gateway refused, by the refusal's code (issue 15.7). */
  refusal(host: HostRuntime, code: ErrorCode): Counter {
    return this.counterFor('patchbay_commands_refused_total', 'Commands refused by the gateway before or instead of reaching the device, by the asking host and the code', { host: host.id, adapter: host.type, reason: code });
  }

  private counterFor(name: string, help: string, labels: Readonly<Record<string, string>>): Counter {
    const key = `${name}\u0000${Object.values(labels).join('\u0000')}`;
    let counter = this.counters.get(key);
    if (counter === undefined) {
      counter = this.metrics.counter(name, help, labels);
      this.counters.set(key, counter);
    }
    return counter;
  }
}
