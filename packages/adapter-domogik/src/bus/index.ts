import { silentLogger, type Counter, type Logger } from '@patchbay/core';
import { portOf } from './bind.js';
import { Broker, type BrokerTiming } from './broker.js';
import { Forwarder } from './forwarder.js';

export { Broker, type BrokerOptions, type BrokerTiming } from './broker.js';
export { Forwarder, type ForwarderOptions } from './forwarder.js';

/** Options of {@link EmbeddedBus}. Port 0 picks a free port. */
export interface EmbeddedBusOptions {
  /** Address to bind (default 127.0.0.1, §2). */
  ip?: string;
  reqRepPort?: number;
  pubPort?: number;
  subPort?: number;
  logger?: Logger;
  badMessages?: Counter;
  timing?: Partial<BrokerTiming>;
}

/** The bound ports of a running bus. */
export interface BusPorts {
  reqRepPort: number;
  pubPort: number;
  subPort: number;
}

/**
 * A Domogik MQ bus in-process: the broker and the forwarder of domogik-mq, so a
 * Domogik-speaking program (and the gateway's own plugin) can run with no Domogik installed.
 */
export class EmbeddedBus {
  readonly broker: Broker;
  readonly forwarder: Forwarder;
  private current: BusPorts | undefined;

  constructor(options: EmbeddedBusOptions = {}) {
    const ip = options.ip ?? '127.0.0.1';
    const logger = options.logger ?? silentLogger;
    this.broker = new Broker({ endpoint: `tcp://${ip}:${options.reqRepPort ?? 40410}`, logger, badMessages: options.badMessages, timing: options.timing });
    this.forwarder = new Forwarder({ pubEndpoint: `tcp://${ip}:${options.pubPort ?? 40411}`, subEndpoint: `tcp://${ip}:${options.subPort ?? 40412}`, logger });
  }

  /** The bound ports, once started. */
  get ports(): BusPorts | undefined {
    return this.current;
  }

  async start(): Promise<BusPorts> {
    if (this.current) return this.current;
    await this.forwarder.start();
    try {
      await this.broker.start();
    } catch (error) {
      await this.forwarder.stop();
      throw error;
    }
    const bound = this.forwarder.bound as { pub: string; sub: string };
    this.current = { reqRepPort: portOf(this.broker.endpoint as string), pubPort: portOf(bound.pub), subPort: portOf(bound.sub) };
    return this.current;
  }

  async stop(): Promise<void> {
    this.current = undefined;
    await Promise.all([this.broker.stop(), this.forwarder.stop()]);
  }
}
