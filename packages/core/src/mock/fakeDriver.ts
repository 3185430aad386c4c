import { defineDriver, type CommandEvent, type DriverContext, type DriverDefinition, type JsonValue, type ReplyInit } from '../index.js';
import { z } from 'zod';
import { Signal } from './signal.js';

/**
 * A driver for tests: emits on demand, records commands, answers them with `answer`
 * (default: ok with the command's value), and can fail at start or mid-run.
 */
export class FakeDriver {
  readonly commands: CommandEvent[] = [];
  /** Make `start()` throw this many more times. */
  failStarts = 0;
  starts = 0;
  stops = 0;
  ctx: DriverContext | undefined;
  answer: (command: CommandEvent) => ReplyInit | Promise<ReplyInit> = (command) => ({ ok: true, value: command.value ?? null });
  private readonly changed = new Signal();
  readonly definition: DriverDefinition;

  constructor(type = 'fake-driver') {
    this.definition = defineDriver({
      type,
      description: 'test double driver',
      config: z.object({}).passthrough(),
      create: (_config, ctx) => ({
        start: () => {
          this.starts++;
          this.changed.notify();
          if (this.failStarts > 0) {
            this.failStarts--;
            throw new Error('fake driver failed to start');
          }
          this.ctx = ctx;
          this.changed.notify();
        },
        stop: () => {
          this.stops++;
          if (this.ctx === ctx) this.ctx = undefined;
        },
        send: (command) => {
          this.commands.push(command);
          this.changed.notify();
          return this.answer(command);
        },
      }),
    });
  }

  /** Report a value as the device. */
  emit(channel: string, value: JsonValue): void {
    if (!this.ctx) throw new Error('fake driver not started');
    this.ctx.emit(channel, value);
  }

  /** Fail mid-run, as a driver that lost its hardware for good would. */
  crash(error: unknown = new Error('fake driver crashed')): void {
    if (!this.ctx) throw new Error('fake driver not started');
    this.ctx.fail(error);
  }

  /** Wait until the driver has started successfully `count` times. */
  waitRunning(count = 1, timeoutMs = 15_000): Promise<true> {
    return this.changed.waitUntil(() => (this.ctx && this.starts >= count ? true : undefined), { timeoutMs, what: `the fake driver to be running (start #${count})` });
  }
}
