import { newEventId, type EndpointStatus, type OutboundEvent, type StatusEvent } from './events.js';
import type { Journal } from './journal.js';
import type { HostRuntime } from './runtime.js';

/** Every this many events (a power of two, minus one as a mask), idle hosts' cursors catch up. */
const IDLE_ACK_EVERY_MASK = 4096 - 1;

/**
 * The one routing step and the sequence numbers it hands out: every event the gateway sends
 * anywhere is numbered here, journaled, then given to each target host's outbox.
 */
export class EventRouter {
  /** The last sequence number handed out (the journal's, after recovery). */
  seq = 0;

  constructor(
    private readonly journal: Journal | undefined,
    /** Every host of the gateway, for the idle hosts' cursors. */
    private readonly hosts: ReadonlyMap<string, HostRuntime>,
  ) {}

  /** Number the event, journal it, hand it to each target outbox. */
  route(event: OutboundEvent, hosts: readonly HostRuntime[]): void {
    const seq = ++this.seq;
    if (this.journal !== undefined) {
      this.journal.append(seq, event);
      // A reply closes its command: written before any host can be handed it (outboxes deliver
      // in this call), or a kill -9 between the two would answer that command again with a
      // PB210 after the host had its reply. One write per reply; states wait for the batch.
      if (event.kind === 'reply') this.journal.flush();
      if ((seq & IDLE_ACK_EVERY_MASK) === 0) this.ackIdleHosts(seq - 1);
    }
    for (let i = 0; i < hosts.length; i++) (hosts[i] as HostRuntime).outbox.push(event, seq);
  }

  /** Routes an endpoint's status change to `hosts`. */
  status(endpoint: string, { status, reason }: { status: EndpointStatus; reason: string | undefined }, hosts: readonly HostRuntime[]): void {
    const now = Date.now();
    const event: StatusEvent = { kind: 'status', id: newEventId(now), time: now, origin: endpoint, endpoint, status, reason };
    this.route(event, hosts);
  }

  /**
   * Hosts long down or behind pin the journal's old segments with their cursors: journal
   * again, for each alone, what its outbox still holds (a few coalesced slots and its
   * replies), so the cursor moves past everything else. An idle one simply catches up.
   */
  rebase(journal: Journal, ids: readonly string[]): void {
    for (const id of ids) {
      const host = this.hosts.get(id);
      if (host === undefined) continue;
      if (host.outbox.queued === 0) journal.ack(id, this.seq);
      else
        host.outbox.rebase((event) => {
          const seq = ++this.seq;
          journal.appendFor(id, seq, event);
          return seq;
        });
    }
  }

  /**
   * A host with an empty outbox has everything routed to it; what was not routed to it is not
   * its concern. Its cursor only moves when it is delivered something, so a host routed only
   * a quiet device would otherwise hold every journal segment back.
   */
  private ackIdleHosts(upTo: number): void {
    const journal = this.journal as Journal;
    for (const host of this.hosts.values()) if (host.outbox.queued === 0) journal.ack(host.id, upTo);
  }
}
