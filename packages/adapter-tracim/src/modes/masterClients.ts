import type { Counter, Logger } from '@patchbay/core';
import type { TracimConfig } from '../config.js';
import type { ClientData } from '../protocol/wire.js';
import { Destination, type Outgoing } from '../transport/destination.js';
import { DropLog } from '../transport/dropLog.js';

/** A registered client as the master sees it: for health and tests. */
export interface ClientStatus extends ClientData {
  /** Messages waiting for it, the one in flight included. */
  queued: number;
  /** It took a connection and did not close it within `sendTimeoutMs` (its reader is stuck). */
  stalled: boolean;
}

interface Registered extends ClientData {
  /** Cleared at each keep-alive tick, set by a pong (protocols/tracim.md §6.3). */
  alive: boolean;
}

/** What the client list reports through. */
export interface MasterClientsOptions {
  config: Pick<TracimConfig, 'sendTimeoutMs' | 'maxQueuedPerClient' | 'coalesceAfter'>;
  logger: Logger;
  counters: { dropped: Counter; stalled: Counter };
  /** A fresh TLM event id (a client that is behind may need one, see {@link Outgoing.renumber}). */
  takeEventId(): number;
}

/**
 * The master's ordered list of registered clients (what `daemon_get_clients` answers, §5.4)
 * and one {@link Destination} queue per path it sends to: registered clients keep theirs
 * while unreachable; one-off senders (a ping, a reply) get a queue that goes once idle.
 */
export class MasterClients {
  private readonly clients = new Map<string, Registered>();
  private readonly destinations = new Map<string, Destination>();
  /** Each destination's drop lines (one per episode and interval, not one per message). */
  private readonly dropLogs = new Map<string, DropLog>();

  constructor(private readonly options: MasterClientsOptions) {}

  get size(): number {
    return this.clients.size;
  }

  has(path: string): boolean {
    return this.clients.has(path);
  }

  /** Registered clients in registration order. */
  list(): ClientData[] {
    return [...this.clients.values()].map(({ path, pid }) => ({ path, pid }));
  }

  /** Registered paths in registration order. */
  paths(): IterableIterator<string> {
    return this.clients.keys();
  }

  status(): ClientStatus[] {
    return [...this.clients.values()].map(({ path, pid }) => {
      const destination = this.destinations.get(path);
      return { path, pid, queued: destination?.size ?? 0, stalled: destination?.stalled ?? false };
    });
  }

  /** Registers `path`, or renews it; true when it is new. */
  register(path: string, pid: string): boolean {
    const existing = this.clients.get(path);
    if (existing) {
      existing.pid = pid;
      existing.alive = true;
      return false;
    }
    this.clients.set(path, { path, pid, alive: true });
    return true;
  }

  /** A pong came from `path`. */
  markAlive(path: string): void {
    const client = this.clients.get(path);
    if (client) client.alive = true;
  }

  /** Removes a client and its queue; how many undelivered messages went with it, and whether it was registered. */
  remove(path: string): { known: boolean; abandoned: number } {
    const known = this.clients.delete(path);
    const destination = this.destinations.get(path);
    this.forgetDestination(path);
    return { known, abandoned: destination ? destination.close() : 0 };
  }

  /** §6.3: the clients that sent no pong since the last sweep are removed (returned); the rest are marked for the next one. */
  sweep(): { path: string; abandoned: number }[] {
    const removed: { path: string; abandoned: number }[] = [];
    for (const client of [...this.clients.values()]) {
      if (!client.alive) removed.push({ path: client.path, abandoned: this.remove(client.path).abandoned });
    }
    for (const client of this.clients.values()) client.alive = false;
    return removed;
  }

  /** Queues a message for `path` (registered or not). */
  push(path: string, item: Outgoing, urgent = false): void {
    this.destination(path).push(item, urgent);
  }

  /**
   * True when some registered client takes every message now (not unreachable, not behind):
   * a message broadcast now will be sent to it as it is.
   */
  keepingUp(): boolean {
    for (const path of this.clients.keys()) {
      const destination = this.destinations.get(path);
      if (destination === undefined || !destination.coalescing) return true;
    }
    return false;
  }

  /** Queues one message for every registered client. */
  broadcast(item: Outgoing): void {
    for (const path of this.clients.keys()) this.destination(path).push(item);
  }

  /** Abandons every queue and forgets every client; how many messages were abandoned. */
  close(): number {
    let abandoned = 0;
    for (const destination of this.destinations.values()) abandoned += destination.close();
    this.destinations.clear();
    for (const drops of this.dropLogs.values()) drops.close();
    this.dropLogs.clear();
    this.clients.clear();
    return abandoned;
  }

  private forgetDestination(path: string): void {
    this.destinations.delete(path);
    this.dropLogs.get(path)?.close();
    this.dropLogs.delete(path);
  }

  private destination(path: string): Destination {
    const existing = this.destinations.get(path);
    if (existing !== undefined) return existing;
    const { config, logger, counters } = this.options;
    const drops = new DropLog((line) => logger.warn({ client: path }, `message to ${path} dropped: ${line}`));
    this.dropLogs.set(path, drops);
    const destination = new Destination(
      path,
      { sendTimeoutMs: config.sendTimeoutMs, maxQueue: config.maxQueuedPerClient, coalesceAfter: config.coalesceAfter },
      {
        keepOnFailure: (p) => this.clients.has(p),
        onReachability: (p, reachable, reason) => {
          if (reachable) logger.info({ client: p }, `Tracim client ${p} is reachable again`);
          else logger.warn({ client: p, reason }, `Tracim client ${p} is unreachable (${reason}): keeping its messages (latest state per channel) until it answers or the keep-alive sweep removes it`);
        },
        onDropped: (_p, count, reason) => {
          counters.dropped.inc(count);
          drops.dropped(count, reason);
        },
        onStalled: (p, stalled) => {
          if (!this.clients.has(p)) return;
          if (stalled) {
            counters.stalled.inc();
            logger.warn({ client: p }, `Tracim client ${p} is stalled: it took a message and did not close the connection within ${config.sendTimeoutMs} ms; each message to it now waits that long`);
          } else logger.info({ client: p }, `Tracim client ${p} closes its connections again (no longer stalled)`);
        },
        takeEventId: this.options.takeEventId,
        onIdle: (p) => {
          // Keep a queue only for registered clients; one-off replies leave nothing behind.
          if (!this.clients.has(p)) this.forgetDestination(p);
        },
      },
    );
    this.destinations.set(path, destination);
    return destination;
  }
}
