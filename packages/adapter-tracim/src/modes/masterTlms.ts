import type { AvailabilityEvent, DescriptionEvent, HostContext, MomentaryEvent, StateEvent } from '@patchbay/core';
import { availabilityTlm, descriptionTlm, momentaryTlm, stateTlm } from '../protocol/tlm.js';
import { EventTypes } from '../protocol/wire.js';
import type { Outgoing } from '../transport/destination.js';
import type { MasterClients } from './masterClients.js';

/** What the master's TLMs are made with. */
export interface MasterTlmsOptions {
  ctx: Pick<HostContext, 'description' | 'snapshot'>;
  clients: MasterClients;
  /** The next synthesised `event_id` (protocol/eventIds.ts). */
  nextId(): number;
  /** A TLM's `daemon_tracim_event` under the size policy; undefined: skip it. */
  fit(tlmText: string): Buffer | undefined;
}

/**
 * Device events as synthesised TLMs for the master's clients (protocols/tracim.md §8.2, §10):
 * each broadcast is numbered once for every client and encoded once, its bytes shared by all.
 * While some client keeps up it is encoded at once; while every client is behind, at the first
 * client's turn: at 10,000 values/s most changes to a client that is behind are coalesced away
 * (issue 20), and those never cost an encoding.
 */
export class MasterTlms {
  constructor(private readonly options: MasterTlmsOptions) {}

  broadcast(event: StateEvent | DescriptionEvent | MomentaryEvent | AvailabilityEvent): void {
    if (this.options.clients.size === 0) return;
    switch (event.kind) {
      case 'state':
        return this.all(stateKey(event.device, event.channel), (id) =>
          stateTlm(id, { device: event.device, channel: event.channel, value: event.value, time: event.time, described: this.channelOf(event.device, event.channel) }),
        );
      case 'description':
        // Latest wins for a client that is behind: only the current description matters.
        return this.all(`${event.device}\u0000@description`, (id) => descriptionTlm(id, { device: event.device, description: event.description, time: event.time }));
      case 'momentary':
        // No key: a press is never coalesced, not even for a client that is behind.
        return this.all(undefined, (id) => momentaryTlm(id, { device: event.device, channel: event.channel, value: event.value, time: event.time, described: this.channelOf(event.device, event.channel) }));
      case 'availability':
        return this.all(`${event.device}\u0000@availability`, (id) =>
          availabilityTlm(id, { device: event.device, availability: event.availability, reason: event.reason, lastSeen: event.lastSeen, time: event.time }),
        );
    }
  }

  /** A TLM relayed from the Tracim server, verbatim (its own event_id). */
  relay(text: string): void {
    const bytes = this.options.fit(text);
    if (bytes !== undefined) this.options.clients.broadcast({ bytes, type: EventTypes.tracimEvent });
  }

  /** A registering client first gets what each device is, then its current state (ARCHITECTURE.md). */
  snapshot(path: string): void {
    const { ctx, clients } = this.options;
    const now = Date.now();
    const push = (key: string, tlm: (eventId: number) => string) => clients.push(path, this.message(key, tlm));
    for (const device of ctx.snapshot().devices) {
      const { device: id, availability, availabilityReason: reason, lastSeen } = device;
      const description = device.description ?? ctx.description(id);
      if (description) push(`${id}\u0000@description`, (eventId) => descriptionTlm(eventId, { device: id, description, time: now }));
      if (availability !== 'online') push(`${id}\u0000@availability`, (eventId) => availabilityTlm(eventId, { device: id, availability, reason, lastSeen, time: now }));
      for (const c of device.channels) {
        push(stateKey(id, c.channel), (eventId) => stateTlm(eventId, { device: id, channel: c.channel, value: c.value, time: c.time, described: description?.channels[c.channel] }));
      }
    }
  }

  private all(key: string | undefined, tlm: (eventId: number) => string): void {
    const { clients } = this.options;
    const message = this.message(key, tlm);
    // A client that keeps up sends every message, so encoding one now is never wasted, and it
    // is cheaper here, with the other broadcasts of this turn, than at the client's turn between
    // two connections (issue 12 acceptance 5: 211 ms against 45 ms for a burst of 2,000 to one
    // client in a profile). A press (no key) is never coalesced away either.
    if (key === undefined || clients.keepingUp()) message.bytes();
    clients.broadcast(message);
  }

  private message(key: string | undefined, tlm: (eventId: number) => string): TlmOutgoing {
    return new TlmOutgoing({ key, eventId: this.options.nextId(), tlm, fit: this.options.fit });
  }

  private channelOf(device: string, channel: string) {
    return this.options.ctx.description(device)?.channels[channel];
  }
}

/**
 * A synthesised TLM in the clients' queues: its event id is taken when it is broadcast, the
 * bytes are made once (at the broadcast or at the first client's turn) and shared by the others. A client that got it
 * coalesced ahead of newer ones (it is behind) has it made again under a fresh id.
 */
class TlmOutgoing implements Outgoing {
  readonly type = EventTypes.tracimEvent;
  readonly key: string | undefined;
  readonly eventId: number;
  // The TLM text and the size policy as two references, not one closure made per message: at a
  // burst's rate that closure was a measurable part of a broadcast (issue 12 acceptance 5).
  private readonly tlm: (eventId: number) => string;
  private readonly fit: (tlmText: string) => Buffer | undefined;
  private made: Buffer | undefined;
  private skipped = false;

  constructor(init: { key: string | undefined; eventId: number; tlm: (eventId: number) => string; fit: (tlmText: string) => Buffer | undefined }) {
    this.key = init.key;
    this.eventId = init.eventId;
    this.tlm = init.tlm;
    this.fit = init.fit;
  }

  bytes(): Buffer | undefined {
    if (this.made === undefined && !this.skipped) {
      this.made = this.renumber(this.eventId);
      this.skipped = this.made === undefined;
    }
    return this.made;
  }

  renumber(eventId: number): Buffer | undefined {
    return this.fit(this.tlm(eventId));
  }
}

/** The coalescing key of a device channel's state in a client's queue. */
function stateKey(device: string, channel: string): string {
  return device + '\u0000' + channel;
}
