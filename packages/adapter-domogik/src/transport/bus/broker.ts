import type { Counter, Logger } from '@patchbay/core';
import { Router } from 'zeromq';
import { SendQueue } from '../mq/sendQueue.js';
import { commandFrames, Command, describeFrames, EMPTY, MDPC, MDPW, parseTimeoutFrame, splitEnvelope } from '../../protocol/wire.js';
import { admissionDomain, admit } from './admission.js';
import { bindWithRetry, connectionCap, listenerOptions, type ListenerLimits } from './bind.js';

/** Broker timing (domogikmq/reqrep/broker.py: HB_INTERVAL 1000 ms, HB_LIVENESS 5; §5.6). */
export interface BrokerTiming {
  heartbeatMs: number;
  liveness: number;
}

/** Options of the embedded broker. */
export interface BrokerOptions {
  /** `tcp://127.0.0.1:40410`; port `*` or 0 picks a free port (read {@link Broker.endpoint}). */
  endpoint: string;
  /** Also bind this `inproc://` endpoint, for a worker in the same process (no TCP hop). */
  inproc?: string;
  logger: Logger;
  /** Counts malformed messages. */
  badMessages?: Counter;
  timing?: Partial<BrokerTiming>;
  /** Most requests queued per service while it has no idle worker (oldest dropped beyond); 10 000 by default. */
  maxQueuedPerService?: number;
  /** @deprecated The old name of {@link maxQueuedPerService}: still read, with a warning. */
  maxQueue?: number;
  limits?: ListenerLimits;
}

interface WorkerEntry {
  key: string;
  address: Buffer;
  service: ServiceEntry;
  liveness: number;
  /** Heartbeat lock end (epoch ms) while a request with a timeout is being handled (§5.6). */
  lockedUntil: number;
  busy: boolean;
}

interface QueuedRequest {
  envelope: Buffer[];
  body: Buffer[];
  /** When the client gives up (epoch ms), when it sent a timeout frame. */
  expiresAt: number | undefined;
  timeoutS: number | undefined;
}

interface ServiceEntry {
  name: string;
  workers: Set<WorkerEntry>;
  idle: WorkerEntry[];
  queue: QueuedRequest[];
}

const noCounter: Counter = { inc: () => undefined };

/** A service answered inside the broker's process: body frames in, `[action, json]` out. */
export type LocalService = (body: Buffer[]) => Promise<[string, string]>;

/**
 * A Majordomo broker compatible with domogik-mq's `MDPBroker` (§5): one ROUTER socket, the
 * client timeout frame (stripped after the service, driving the heartbeat lock), `mmi.*`
 * services, heartbeats with worker expiry. Differences, all in the client's favour and
 * documented inline: queued requests are also handed out when a worker registers (not only
 * when one replies), queued requests whose client already gave up are dropped, and
 * DISCONNECT carries its empty delimiter.
 */
export class Broker {
  private socket: Router | undefined;
  private sender: SendQueue | undefined;
  private readonly workers = new Map<string, WorkerEntry>();
  private readonly services = new Map<string, ServiceEntry>();
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private readonly timing: BrokerTiming;
  private readonly bad: Counter;
  private bound: string | undefined;
  private readonly local = new Map<string, LocalService>();
  private stopAdmission: (() => void) | undefined;
  /** Requests forwarded to workers and replies forwarded to clients, for tests and metrics. */
  readonly stats = { requests: 0, replies: 0, dropped: 0 };

  constructor(private readonly options: BrokerOptions) {
    this.timing = { heartbeatMs: 1000, liveness: 5, ...options.timing };
    this.bad = options.badMessages ?? noCounter;
    if (options.maxQueue !== undefined) options.logger.warn('domogik broker: option "maxQueue" is deprecated; it is now "maxQueuedPerService"');
    this.maxQueued = options.maxQueuedPerService ?? options.maxQueue ?? 10_000;
  }

  /** Most requests queued per service (see {@link BrokerOptions.maxQueuedPerService}). */
  private readonly maxQueued: number;

  /** The bound endpoint (with the real port), once started. */
  get endpoint(): string | undefined {
    return this.bound;
  }

  async start(): Promise<void> {
    if (this.socket) return;
    const zapDomain = admissionDomain();
    const limits = listenerOptions(this.options.limits);
    const socket = new Router({ linger: 0, sendHighWaterMark: 100_000, receiveHighWaterMark: 100_000, zapDomain, ...limits });
    try {
      this.stopAdmission = await admit(socket, zapDomain, { name: 'broker port', maxConnections: connectionCap(this.options.limits), handshakeTimeoutMs: limits.handshakeInterval, logger: this.options.logger });
      this.bound = await bindWithRetry(socket, this.options.endpoint);
      if (this.options.inproc) await socket.bind(this.options.inproc);
    } catch (error) {
      this.stopAdmission?.();
      socket.close();
      throw error;
    }
    this.socket = socket;
    this.sender = new SendQueue(socket);
    this.timer = setInterval(() => this.tick(), this.timing.heartbeatMs);
    this.loop = this.receiveLoop(socket);
  }

  async stop(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    this.socket = undefined;
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopAdmission?.();
    this.stopAdmission = undefined;
    socket.close();
    await this.loop;
    this.loop = undefined;
    this.sender = undefined;
    this.workers.clear();
    this.services.clear();
    this.bound = undefined;
  }

  /**
   * Serves `service` in this process, with no socket hop: requests are answered by `handler`,
   * concurrently (an in-process handler needs none of MDP's one-request-per-worker flow
   * control). The gateway's own plugin does this on the embedded bus; it returns the detach.
   */
  attachLocal(service: string, handler: LocalService): () => void {
    this.local.set(service, handler);
    this.options.logger.info({ service }, `domogik broker: in-process service "${service}" attached`);
    return () => {
      if (this.local.get(service) === handler) this.local.delete(service);
    };
  }

  /** Names of services with at least one registered worker (what `mmi.services` lists). */
  registered(): string[] {
    const names: string[] = [...this.local.keys()];
    for (const worker of this.workers.values()) names.push(worker.service.name);
    return names;
  }

  private async receiveLoop(socket: Router): Promise<void> {
    try {
      for await (const frames of socket) {
        try {
          this.onMessage(frames);
        } catch (error) {
          // Never let one message take the broker down.
          this.malformed(frames, `handler error: ${(error as Error).message}`);
        }
      }
    } catch (error) {
      if (this.socket === socket) this.options.logger.error({ err: error }, `domogik broker: receive loop ended: ${(error as Error).message}`);
    }
  }

  private malformed(frames: readonly Buffer[], why: string): void {
    this.bad.inc();
    this.options.logger.warn({ frames: describeFrames(frames) }, `domogik broker: dropped a malformed message: ${why}`);
  }

  private send(frames: Buffer[]): void {
    const sender = this.sender;
    if (!sender) return;
    sender.send(frames).catch((error: unknown) => {
      if (this.socket) this.options.logger.warn({ err: error }, `domogik broker: send failed: ${(error as Error).message}`);
    });
  }

  private onMessage(frames: Buffer[]): void {
    // [address..., "", header, ...] as pyzmq-mdp's split_address reads it.
    const split = splitEnvelope(frames, 0);
    if (!split || split.envelope.length === 0) return this.malformed(frames, 'no address/empty delimiter');
    const header = split.rest[0];
    if (header === undefined) return this.malformed(frames, 'no protocol header');
    // §5.1: dispatch on the header prefix; anything else is logged and ignored.
    if (header.equals(MDPW_BUF)) return this.onWorker(split.envelope, split.rest, frames);
    if (header.equals(MDPC_BUF)) return this.onClient(split.envelope, split.rest, frames);
    this.malformed(frames, `unknown protocol header ${JSON.stringify(header.toString('latin1').slice(0, 16))}`);
  }

  private onClient(envelope: Buffer[], rest: Buffer[], frames: Buffer[]): void {
    const serviceFrame = rest[1];
    if (serviceFrame === undefined || serviceFrame.length === 0) return this.malformed(frames, 'client request without a service');
    const service = serviceFrame.toString('latin1');
    let body = rest.slice(2);
    // §5.2: pop the frame after the service when it parses as a float, else leave it as body.
    const timeout = parseTimeoutFrame(body[0]);
    if (timeout.strip) body = body.slice(1);
    if (service.startsWith('mmi.')) return this.onMmi(envelope, service, body);
    const local = this.local.get(service);
    if (local) {
      this.stats.requests++;
      void local(body)
        .then(([action, json]) => {
          this.stats.replies++;
          this.send([...envelope, EMPTY, MDPC_BUF, serviceFrame, Buffer.from(action, 'latin1'), Buffer.from(json, 'utf8')]);
        })
        .catch((error: unknown) => {
          // A local service answers every request itself; one that fails leaves its client to time out.
          this.options.logger.error({ err: error, service }, `domogik broker: in-process service "${service}" failed: ${(error as Error).message}`);
        });
      return;
    }
    const entry = this.services.get(service);
    if (!entry) {
      // §5.3: unknown service, dropped with a log line; the client times out.
      this.stats.dropped++;
      this.options.logger.warn({ service }, `domogik broker: no service "${service}"; request dropped`);
      return;
    }
    const request: QueuedRequest = {
      envelope,
      body,
      timeoutS: timeout.seconds,
      expiresAt: timeout.seconds !== undefined ? Date.now() + timeout.seconds * 1000 : undefined,
    };
    entry.queue.push(request);
    const max = this.maxQueued;
    if (entry.queue.length > max) {
      entry.queue.shift();
      this.stats.dropped++;
      this.options.logger.warn({ service }, `domogik broker: more than ${max} requests queued for "${service}"; dropped the oldest`);
    }
    this.dispatch(entry);
  }

  private onMmi(envelope: Buffer[], service: string, body: Buffer[]): void {
    // §5.8: answered by the broker itself, one body frame.
    let answer: string;
    if (service === 'mmi.service') {
      const name = body[0]?.toString('latin1') ?? '';
      const entry = this.services.get(name);
      answer = this.local.has(name) || (entry && entry.workers.size > 0) ? '200' : '404';
    } else if (service === 'mmi.services') {
      answer = this.registered().join(', ');
    } else {
      answer = '501';
    }
    this.send([...envelope, EMPTY, MDPC_BUF, Buffer.from(service, 'latin1'), Buffer.from(answer, 'latin1')]);
  }

  private onWorker(envelope: Buffer[], rest: Buffer[], frames: Buffer[]): void {
    const address = envelope[0] as Buffer;
    const key = address.toString('latin1');
    const command = rest[1];
    if (command === undefined || command.length !== 1) return this.malformed(frames, 'worker message without a one-byte command');
    const worker = this.workers.get(key);
    if (worker) worker.liveness = this.timing.liveness;
    switch (command[0]) {
      case Command.READY: {
        const name = rest[2]?.toString('latin1');
        if (!name) return this.malformed(frames, 'READY without a service name');
        if (worker) return; // §5.5: a second READY from the same connection is ignored
        this.register(address, key, name);
        return;
      }
      case Command.REPLY: {
        if (!worker) return; // §5.6: a reply from an unregistered worker is ignored
        const split = splitEnvelope(rest, 2);
        if (!split || split.envelope.length === 0) {
          // The client cannot be found; free the worker so its service does not block (§5.7).
          this.malformed(frames, 'REPLY without a client envelope');
        } else {
          this.stats.replies++;
          this.send([...split.envelope, EMPTY, MDPC_BUF, Buffer.from(worker.service.name, 'latin1'), ...split.rest]);
        }
        this.release(worker);
        return;
      }
      case Command.HEARTBEAT:
        return;
      case Command.DISCONNECT:
        if (worker) this.unregister(worker, 'disconnected');
        return;
      default:
        // §5.1: unknown worker command: DISCONNECT and unregister.
        this.malformed(frames, `unknown worker command 0x${command.toString('hex')}`);
        this.send([address, EMPTY, MDPW_BUF, commandFrames.disconnect]);
        if (worker) this.unregister(worker, 'sent an unknown command');
    }
  }

  private register(address: Buffer, key: string, name: string): void {
    let service = this.services.get(name);
    if (!service) {
      service = { name, workers: new Set(), idle: [], queue: [] };
      this.services.set(name, service);
    }
    const worker: WorkerEntry = { key, address, service, liveness: this.timing.liveness, lockedUntil: 0, busy: false };
    this.workers.set(key, worker);
    service.workers.add(worker);
    service.idle.push(worker);
    this.options.logger.info({ service: name }, `domogik broker: worker registered for "${name}"`);
    // Unlike domogik-mq (which waits for some worker's REPLY), hand queued requests out now.
    this.dispatch(service);
  }

  private unregister(worker: WorkerEntry, why: string): void {
    this.workers.delete(worker.key);
    worker.service.workers.delete(worker);
    const index = worker.service.idle.indexOf(worker);
    if (index >= 0) worker.service.idle.splice(index, 1);
    this.options.logger.info({ service: worker.service.name }, `domogik broker: worker of "${worker.service.name}" unregistered (${why})`);
  }

  private release(worker: WorkerEntry): void {
    worker.busy = false;
    worker.lockedUntil = 0;
    worker.service.idle.push(worker);
    this.dispatch(worker.service);
  }

  private dispatch(service: ServiceEntry): void {
    const now = Date.now();
    while (service.queue.length > 0 && service.idle.length > 0) {
      const request = service.queue.shift() as QueuedRequest;
      if (request.expiresAt !== undefined && request.expiresAt < now) {
        // The client gave up already; domogik-mq would still deliver it (§5.7).
        this.stats.dropped++;
        continue;
      }
      const worker = service.idle.shift() as WorkerEntry;
      worker.busy = true;
      worker.lockedUntil = request.timeoutS !== undefined ? now + request.timeoutS * 1000 : 0;
      this.stats.requests++;
      this.send([worker.address, EMPTY, MDPW_BUF, commandFrames.request, ...request.envelope, EMPTY, ...request.body]);
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const worker of [...this.workers.values()]) {
      // §5.6 heartbeat lock: no heartbeat and no liveness accounting while a request runs.
      if (worker.busy && worker.lockedUntil > now) continue;
      this.send([worker.address, EMPTY, MDPW_BUF, commandFrames.heartbeat]);
      worker.liveness--;
      if (worker.liveness <= 0) this.unregister(worker, 'expired: no heartbeat');
    }
    // Drop queued requests whose client gave up, so a dead service does not pile them up.
    for (const service of this.services.values()) {
      if (service.queue.length > 0 && service.idle.length === 0) {
        const before = service.queue.length;
        service.queue = service.queue.filter((r) => r.expiresAt === undefined || r.expiresAt >= now);
        this.stats.dropped += before - service.queue.length;
      }
    }
  }
}

const MDPW_BUF = Buffer.from(MDPW, 'latin1');
const MDPC_BUF = Buffer.from(MDPC, 'latin1');
