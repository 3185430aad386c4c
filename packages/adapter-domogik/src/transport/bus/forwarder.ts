import type { Logger } from '@patchbay/core';
import { Proxy, XPublisher, XSubscriber } from 'zeromq';
import { admissionDomain, admit } from './admission.js';
import { bindWithRetry, connectionCap, listenerOptions, type ListenerLimits } from './bind.js';

/** Options of the embedded forwarder. */
export interface ForwarderOptions {
  /** Where publishers connect (XSUB), e.g. `tcp://127.0.0.1:40411`. */
  pubEndpoint: string;
  /** Where subscribers connect (XPUB), e.g. `tcp://127.0.0.1:40412`. */
  subEndpoint: string;
  /** Also bind these `inproc://` endpoints, for a publisher/subscriber in the same process. */
  inproc?: { pub: string; sub: string };
  logger: Logger;
  limits?: ListenerLimits;
}

/**
 * The pub/sub forwarder of domogik-mq (`dmg_forwarder`, §1, §4): an XSUB→XPUB proxy. It never
 * parses messages, so malformed ones pass through untouched to subscribers, which must drop
 * them (§4.3). The proxy loop runs in zeromq's worker thread, off the event loop.
 */
export class Forwarder {
  private proxy: Proxy<XSubscriber, XPublisher> | undefined;
  private running: Promise<void> | undefined;
  private endpoints: { pub: string; sub: string } | undefined;
  private readonly stopAdmission: (() => void)[] = [];

  constructor(private readonly options: ForwarderOptions) {}

  /** The bound endpoints (real ports), once started. */
  get bound(): { pub: string; sub: string } | undefined {
    return this.endpoints;
  }

  async start(): Promise<void> {
    if (this.proxy) return;
    // Default high-water marks are 1000 (§4.4); a gateway bursts its snapshot, so allow more.
    const limits = listenerOptions(this.options.limits);
    const domains = { front: admissionDomain(), back: admissionDomain() };
    const front = new XSubscriber({ linger: 0, receiveHighWaterMark: 100_000, zapDomain: domains.front, ...limits });
    const back = new XPublisher({ linger: 0, sendHighWaterMark: 100_000, zapDomain: domains.back, ...limits });
    const cap = { maxConnections: connectionCap(this.options.limits), handshakeTimeoutMs: limits.handshakeInterval, logger: this.options.logger };
    try {
      this.stopAdmission.push(await admit(front, domains.front, { name: 'pub port', ...cap }));
      this.stopAdmission.push(await admit(back, domains.back, { name: 'sub port', ...cap }));
      const pub = await bindWithRetry(front, this.options.pubEndpoint);
      const sub = await bindWithRetry(back, this.options.subEndpoint);
      if (this.options.inproc) {
        await front.bind(this.options.inproc.pub);
        await back.bind(this.options.inproc.sub);
      }
      this.endpoints = { pub, sub };
    } catch (error) {
      for (const stop of this.stopAdmission.splice(0)) stop();
      front.close();
      back.close();
      throw error;
    }
    const proxy = new Proxy(front, back);
    this.proxy = proxy;
    this.running = proxy.run().catch((error: unknown) => {
      this.options.logger.error({ err: error }, `domogik forwarder stopped: ${(error as Error).message}`);
    });
  }

  async stop(): Promise<void> {
    const proxy = this.proxy;
    if (!proxy) return;
    this.proxy = undefined;
    for (const stop of this.stopAdmission.splice(0)) stop();
    proxy.terminate();
    await this.running;
    // terminate() closes both sockets once the loop ends; make sure they are closed.
    if (!proxy.frontEnd.closed) proxy.frontEnd.close();
    if (!proxy.backEnd.closed) proxy.backEnd.close();
    this.running = undefined;
    this.endpoints = undefined;
  }
}
