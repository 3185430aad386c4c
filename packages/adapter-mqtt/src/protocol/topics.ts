/**
 * The topic layout under `<base>` (see the README's table). Pure: no I/O.
 *
 *   <base>/bridge/state                      online | offline (last will), retained
 *   <base>/<device>/availability             online | offline | stale, retained
 *   <base>/<device>/<channel>                state, retained
 *   <base>/<device>/<channel>/event          momentary events, not retained
 *   <base>/<device>/<channel>/set            commands (an action's name in place of a channel)
 *   <base>/<device>/<channel>/set/result     replies for MQTT 3.1.1 clients (optional)
 */

/** Longest device or channel id, in UTF-8 bytes, that may become a topic level. */
export const MAX_LEVEL_BYTES = 128;

/** Level names under `<base>` that the layout itself uses, so no device may take them. */
export const RESERVED_DEVICE_IDS: ReadonlySet<string> = new Set(['bridge']);
/** Level names under `<base>/<device>` that the layout uses, so no channel may take them. */
export const RESERVED_CHANNEL_IDS: ReadonlySet<string> = new Set(['availability']);

/** Why `level` cannot be one topic level, or undefined when it can. */
export function topicLevelProblem(level: string): string | undefined {
  if (level.length === 0) return 'is empty';
  if (level.includes('+') || level.includes('#')) return 'contains an MQTT wildcard ("+" or "#")';
  if (level.includes('/')) return 'contains "/" (a topic level separator)';
  if (level.includes('\u0000')) return 'contains a NUL character';
  if (Buffer.byteLength(level, 'utf8') > MAX_LEVEL_BYTES) return `is longer than ${MAX_LEVEL_BYTES} bytes`;
  return undefined;
}

/** Why a device id cannot be used under `<base>`, or undefined. */
export function deviceIdProblem(id: string): string | undefined {
  if (RESERVED_DEVICE_IDS.has(id)) return `is reserved (${[...RESERVED_DEVICE_IDS].join(', ')})`;
  return topicLevelProblem(id);
}

/** Why a channel (or action) id cannot be used under `<base>/<device>`, or undefined. */
export function channelIdProblem(id: string): string | undefined {
  if (RESERVED_CHANNEL_IDS.has(id)) return `is reserved (${[...RESERVED_CHANNEL_IDS].join(', ')})`;
  return topicLevelProblem(id);
}

/** Builds every topic of one `<base>`. */
export class Topics {
  readonly bridgeState: string;
  /** What the adapter subscribes to for commands. */
  readonly commandFilter: string;
  private readonly prefix: string;
  private readonly baseLevels: number;

  constructor(readonly base: string) {
    this.prefix = base + '/';
    this.baseLevels = base.split('/').length;
    this.bridgeState = `${base}/bridge/state`;
    this.commandFilter = `${base}/+/+/set`;
  }

  state(device: string, channel: string): string {
    return this.prefix + device + '/' + channel;
  }

  availability(device: string): string {
    return this.prefix + device + '/availability';
  }

  event(device: string, channel: string): string {
    return this.prefix + device + '/' + channel + '/event';
  }

  command(device: string, channel: string): string {
    return this.prefix + device + '/' + channel + '/set';
  }

  result(device: string, channel: string): string {
    return this.prefix + device + '/' + channel + '/set/result';
  }

  /** The device and channel of a `/set` topic, or undefined for any other topic. */
  parseCommand(topic: string): { device: string; channel: string } | undefined {
    if (!topic.startsWith(this.prefix)) return undefined;
    const levels = topic.split('/');
    if (levels.length !== this.baseLevels + 3 || levels[levels.length - 1] !== 'set') return undefined;
    const device = levels[this.baseLevels] as string;
    const channel = levels[this.baseLevels + 1] as string;
    if (device.length === 0 || channel.length === 0) return undefined;
    return { device, channel };
  }

  /**
   * True when a reply published on `topic` could be read back as a command or overwrite the
   * gateway's own state: a response topic must lie outside `<base>` (no loops, no spoofed state)
   * and hold no wildcard (it is published to).
   */
  isForbiddenResponseTopic(topic: string): boolean {
    return topic.length === 0 || topic === this.base || topic.startsWith(this.prefix) || topic.includes('+') || topic.includes('#') || topic.startsWith('$');
  }
}
