/**
 * The cluster's topic layout (issue 19.2). Pure: no I/O. Every level is checked with the MQTT
 * host's topic rules before it is used.
 *
 *   <cluster>/<gateway>/status                           online (with the run's boot id) | offline (last will), retained
 *   <cluster>/<gateway>/<device>/description             {description, since}, retained; empty: the device is gone
 *   <cluster>/<gateway>/<device>/availability            {availability, reason}, retained
 *   <cluster>/<gateway>/<device>/state/<channel>         {value, time}, retained
 *   <cluster>/<gateway>/<device>/event/<channel>         {id, value, time}, retained (receivers skip retained copies)
 *   <cluster>/<gateway>/command                          MQTT 5 requests to this gateway
 *   <cluster>/<gateway>/reply                            this gateway's response topic
 *   <cluster>/<gateway>/sync                             a nonce this gateway sends itself to know the retained messages are in
 *
 * Gateway-level topics have three levels and device-level ones four or five, so no device id
 * can collide with them.
 */

/** What a topic under `<cluster>/` is about. */
export type ClusterTopic =
  | { kind: 'status'; gateway: string }
  | { kind: 'command'; gateway: string }
  | { kind: 'reply'; gateway: string }
  | { kind: 'sync'; gateway: string }
  | { kind: 'description' | 'availability'; gateway: string; device: string }
  | { kind: 'state' | 'event'; gateway: string; device: string; channel: string };

/** Builds and parses the topics of one cluster, as seen by one gateway. */
export class ClusterTopics {
  private readonly prefix: string;

  constructor(
    readonly cluster: string,
    readonly me: string,
  ) {
    this.prefix = cluster + '/';
  }

  status(gateway = this.me): string {
    return `${this.prefix}${gateway}/status`;
  }

  command(gateway: string): string {
    return `${this.prefix}${gateway}/command`;
  }

  get reply(): string {
    return `${this.prefix}${this.me}/reply`;
  }

  get sync(): string {
    return `${this.prefix}${this.me}/sync`;
  }

  description(device: string, gateway = this.me): string {
    return `${this.prefix}${gateway}/${device}/description`;
  }

  availability(device: string, gateway = this.me): string {
    return `${this.prefix}${gateway}/${device}/availability`;
  }

  state(device: string, channel: string, gateway = this.me): string {
    return `${this.prefix}${gateway}/${device}/state/${channel}`;
  }

  event(device: string, channel: string, gateway = this.me): string {
    return `${this.prefix}${gateway}/${device}/event/${channel}`;
  }

  /** What this gateway subscribes to: every gateway's announcements, and its own requests and replies. */
  subscriptions(): string[] {
    const p = this.prefix;
    return [`${p}+/status`, `${p}+/+/description`, `${p}+/+/availability`, `${p}+/+/state/+`, `${p}+/+/event/+`, this.command(this.me), this.reply, this.sync];
  }

  /** A response topic another gateway may ask this one to answer on: `<cluster>/<gateway>/reply`, nothing else. */
  isResponseTopic(topic: string): boolean {
    const parsed = this.parse(topic);
    return parsed?.kind === 'reply';
  }

  parse(topic: string): ClusterTopic | undefined {
    if (!topic.startsWith(this.prefix)) return undefined;
    const levels = topic.slice(this.prefix.length).split('/');
    if (levels.some((l) => l.length === 0)) return undefined;
    const [gateway, second, third, fourth] = levels as [string, string, string?, string?];
    if (levels.length === 2) {
      if (second === 'status' || second === 'command' || second === 'reply' || second === 'sync') return { kind: second, gateway };
      return undefined;
    }
    if (levels.length === 3 && (third === 'description' || third === 'availability')) return { kind: third, gateway, device: second };
    if (levels.length === 4 && (third === 'state' || third === 'event')) return { kind: third, gateway, device: second, channel: fourth as string };
    return undefined;
  }
}
