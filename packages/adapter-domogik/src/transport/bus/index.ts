import { silentLogger, type Counter, type Logger } from '@patchbay/core';
import { portOf, type ListenerLimits } from './bind.js';
import { Broker, type BrokerTiming } from './broker.js';
import { Forwarder } from './forwarder.js';

export { Broker, type BrokerOptions, type BrokerTiming, type LocalService } from './broker.js';
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
  /** The broker's bound on requests waiting per service (see `BrokerOptions.maxQueuedPerService`). */
  maxQueuedPerService?: number;
  /** Message size and handshake deadline on all three TCP listeners. */
  limits?: ListenerLimits;
}

/** The bound ports of a running bus. */
export interface BusPorts {
  reqRepPort: number;
  pubPort: number;
  subPort: number;
}

let instances = 0;

/** `inproc://` endpoints of a running bus, for the gateway's own sockets in the same process. */
export interface InprocEndpoints {
  reqRep: string;
  pub: string;
  sub: string;
}

/**
 * A Domogik MQ bus in-process: the broker and the forwarder of domogik-mq, so a
 * Domogik-speaking program (and the gateway's own plugin) can run with no Domogik installed.
 */
export class EmbeddedBus {
  readonly broker: Broker;
  readonly forwarder: Forwarder;
  private current: BusPorts | undefined;
  /**
   * The same bus over `inproc://` (bound next to TCP): the gateway's own worker, client,
   * publisher and subscriber use these and skip the loopback TCP hops. Everyone else uses TCP.
   */
  readonly inproc: InprocEndpoints;

  constructor(options: EmbeddedBusOptions = {}) {
    const ip = options.ip ?? '127.0.0.1';
    const logger = options.logger ?? silentLogger;
    const tag = `patchbay-domogik-${process.pid}-${++instances}`;
    this.inproc = { reqRep: `inproc://${tag}-broker`, pub: `inproc://${tag}-pub`, sub: `inproc://${tag}-sub` };
    this.broker = new Broker({ endpoint: `tcp://${ip}:${options.reqRepPort ?? 40410}`, inproc: this.inproc.reqRep, logger, badMessages: options.badMessages, timing: options.timing, maxQueuedPerService: options.maxQueuedPerService, limits: options.limits });
    this.forwarder = new Forwarder({
      pubEndpoint: `tcp://${ip}:${options.pubPort ?? 40411}`,
      subEndpoint: `tcp://${ip}:${options.subPort ?? 40412}`,
      inproc: { pub: this.inproc.pub, sub: this.inproc.sub },
      logger,
      limits: options.limits,
    });
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
