import { defineAdapter, ErrorCodes, PatchbayError, type AdapterDefinition, type CommandInput, type HostContext, type OutboundEvent, type ReplyEvent, type SubmitOptions } from '../index.js';
import { z } from 'zod';
import { Signal } from './signal.js';

/**
 * A host adapter for tests: records what it is delivered, can be made unreachable, and
 * submits commands as a real host would. One `FakeHost` backs every instance its
 * definition creates (restarts included).
 */
export class FakeHost {
  /** Everything delivered, in order. */
  readonly delivered: OutboundEvent[] = [];
  /** While true, `deliver` throws HOST_UNREACHABLE and the outbox must retry. */
  down = false;
  /** Make `start()` throw this many more times. */
  failStarts = 0;
  /** Deliveries refused while down. */
  refused = 0;
  starts = 0;
  /** Successful starts. */
  running = 0;
  stops = 0;
  ctx: HostContext | undefined;
  private readonly changed = new Signal();
  readonly definition: AdapterDefinition;

  constructor(type = 'fake-host') {
    this.definition = defineAdapter({
      type,
      description: 'test double host',
      config: z.object({}).passthrough(),
      create: (_config, ctx) => {
        return {
          start: () => {
            this.starts++;
            if (this.failStarts > 0) {
              this.failStarts--;
              throw new Error('fake host failed to start');
            }
            this.ctx = ctx;
            this.running++;
            this.changed.notify();
          },
          stop: () => {
            this.stops++;
          },
          deliver: (event) => {
            if (this.down) {
              this.refused++;
              throw new PatchbayError(ErrorCodes.HOST_UNREACHABLE, 'fake host is down');
            }
            this.delivered.push(event);
            this.changed.notify();
          },
        };
      },
    });
  }

  /** Submit a command as this host. */
  submit(command: CommandInput, options?: SubmitOptions): Promise<ReplyEvent> {
    if (!this.ctx) throw new Error('fake host not started');
    return this.ctx.submit(command, options);
  }

  /** Latest delivered value of a channel. */
  latest(device: string, channel: string): unknown {
    for (let i = this.delivered.length - 1; i >= 0; i--) {
      const e = this.delivered[i] as OutboundEvent;
      if (e.kind === 'state' && e.device === device && e.channel === channel) return e.value;
    }
    return undefined;
  }

  /** Wait until a delivered event matches. */
  waitFor(predicate: (event: OutboundEvent) => boolean, options: { timeoutMs?: number; what?: string } = {}): Promise<OutboundEvent> {
    return this.changed.waitUntil(() => this.delivered.find(predicate), { timeoutMs: options.timeoutMs, what: options.what ?? 'a matching delivered event' });
  }

  /** Wait until the host has been started (again). */
  waitStarted(count = 1, timeoutMs = 15_000): Promise<true> {
    return this.changed.waitUntil(() => (this.running >= count ? true : undefined), {
      timeoutMs,
      what: `the fake host to start ${count} time(s)`,
    });
  }

  /** Wake waiters (after changing `down` from a test). */
  poke(): void {
    this.changed.notify();
  }
}
