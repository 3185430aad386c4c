import { topicLevelProblem } from '@patchbay/adapter-mqtt/internal';
import { quoteForLog, type OutboundEvent } from '@patchbay/core';
import type { MqttClient } from 'mqtt';
import { encodeAnnouncement, encodeAvailability, encodeEvent, encodeState } from './protocol/payload.js';
import type { LinkSession } from './session.js';

/** This gateway's claim to one of its device ids in the cluster. */
export interface LocalClaim {
  /** When this gateway first announced it (kept across runs from the retained announcement). */
  since: number;
  /** Its claim is the oldest: the device is published. */
  shared: boolean;
  /** Its announcement went out in this run. */
  announced: boolean;
}

/**
 * Publishing this gateway's own devices under `<cluster>/<me>/…` (issue 19.2): each event
 * the core routes to the link becomes one retained publication, and every (re)connection
 * publishes the core's snapshot again. A device whose id another gateway claimed first is
 * announced (so the claim can be decided) but not shared.
 */
export class LocalDevices {
  /** This gateway's own devices: when each was first announced, and whether it is shared. */
  private readonly claims = new Map<string, LocalClaim>();
  /** Our own announcements as the broker kept them from an earlier run (read at connect). */
  private readonly previous = new Map<string, number>();

  constructor(
    private readonly session: LinkSession,
    /** Decide who holds a device id, after every earlier decision (the remote side does it). */
    private readonly schedule: (device: string) => void,
  ) {}

  /** Our claim to `device`, if it is one of this gateway's. */
  claim(device: string): LocalClaim | undefined {
    return this.claims.get(device);
  }

  /** The ids this gateway shares with the cluster, sorted. */
  shared(): string[] {
    return [...this.claims].filter(([, c]) => c.shared).map(([d]) => d).sort();
  }

  /** Our own announcement from an earlier run came back with the subscription: its claim keeps its age. */
  announcedEarlier(device: string, since: number): void {
    if (!this.claims.has(device)) this.previous.set(device, since);
  }

  /** Publishes one routed event; undefined when nothing is published for it. */
  publish(client: MqttClient, event: OutboundEvent): Promise<void> | undefined {
    if (event.kind === 'status' || event.kind === 'reply') return undefined;
    const { session } = this;
    const { topics } = session;
    const device = event.device;
    // Warned once; the device stays this gateway's own (throwing would log every event).
    if (!this.levelOk(device, 'device', device)) return undefined;
    const own = this.ownClaim(device);
    if (event.kind === 'description') {
      own.announced = true;
      const announce = session.publish(client, { topic: topics.description(device), payload: encodeAnnouncement(event.description, own.since), retain: true });
      this.schedule(device);
      return announce;
    }
    if (!own.announced) {
      // A device that never described itself (or came with a reload) is announced with its first event.
      own.announced = true;
      void session.publish(client, { topic: topics.description(device), payload: encodeAnnouncement(session.ctx.description(device) ?? null, own.since), retain: true }).catch(() => (own.announced = false));
    }
    if (!own.shared) return undefined;
    switch (event.kind) {
      case 'state':
        if (!this.levelOk(device, 'channel', event.channel)) return undefined;
        return session.publish(client, { topic: topics.state(device, event.channel), payload: encodeState(event.value, event.time), retain: true });
      case 'availability':
        return session.publish(client, { topic: topics.availability(device), payload: encodeAvailability(event.availability, event.reason), retain: true });
      case 'momentary':
        if (!this.levelOk(device, 'channel', event.channel)) return undefined;
        return session.publish(client, { topic: topics.event(device, event.channel), payload: encodeEvent(event.id, event.value, event.time), retain: true });
    }
  }

  /** Our own announcements of devices no longer configured here are cleared, so the others drop them. */
  async clearGone(client: MqttClient): Promise<void> {
    const { ctx } = this.session;
    const configured = new Set(ctx.devices().map((d) => d.id));
    const gone = [...this.previous.keys()].filter((d) => !configured.has(d));
    for (const device of gone) this.previous.delete(device);
    if (gone.length > 0) ctx.logger.info({ devices: gone }, `cluster: ${gone.length} devices no longer configured here are withdrawn from the cluster`);
    await Promise.all(gone.map((device) => this.session.publish(client, { topic: this.session.topics.description(device), payload: '', retain: true })));
  }

  /** Descriptions, availability and every channel's state, from the core's snapshot, with their own times. */
  async republish(client: MqttClient): Promise<void> {
    const { session } = this;
    const { topics } = session;
    const publishing: Promise<void>[] = [];
    for (const entry of session.ctx.snapshot().devices) {
      const device = entry.device;
      if (!this.levelOk(device, 'device', device)) continue;
      const own = this.ownClaim(device);
      own.announced = true;
      publishing.push(session.publish(client, { topic: topics.description(device), payload: encodeAnnouncement(entry.description ?? null, own.since), retain: true }));
      if (!own.shared) continue;
      publishing.push(session.publish(client, { topic: topics.availability(device), payload: encodeAvailability(entry.availability, entry.availabilityReason), retain: true }));
      for (const { channel, value, time } of entry.channels) {
        if (this.levelOk(device, 'channel', channel)) publishing.push(session.publish(client, { topic: topics.state(device, channel), payload: encodeState(value, time), retain: true }));
      }
    }
    await Promise.all(publishing);
  }

  /** This gateway's claim to a device id: since when, and whether it is the oldest. */
  private ownClaim(device: string): LocalClaim {
    let claim = this.claims.get(device);
    if (claim === undefined) {
      claim = { since: this.previous.get(device) ?? Date.now(), shared: true, announced: false };
      this.claims.set(device, claim);
      // Another gateway may have claimed it first: decided with everything else it announced.
      this.schedule(device);
    }
    return claim;
  }

  private levelOk(device: string, what: 'device' | 'channel', id: string): boolean {
    const problem = topicLevelProblem(id);
    if (problem === undefined) return true;
    if (this.session.firstTime(`${device}\u0000${id}`)) {
      this.session.ctx.logger.warn({ device: quoteForLog(device) }, `cluster: ${what} id ${quoteForLog(id)} of ${quoteForLog(device)} ${problem}; not shared with the cluster`);
    }
    return false;
  }
}
