import type { AvailabilityTracker } from './availability.js';
import { jsonDepthExceeds, MAX_JSON_DEPTH } from './commands.js';
import { DeviceDescriptionSchema, fitsKind, type DeviceDescription } from './description.js';
import { newEventId, type DescriptionEvent, type JsonValue, type MomentaryEvent, type StateEvent } from './events.js';
import type { EventRouter } from './eventRouter.js';
import { quoteForLog, type Logger } from './logger.js';
import type { DeviceRuntime } from './runtime.js';
import { formatPath } from './spec.js';
import type { StateStore } from './stateStore.js';

/** What the intake reaches of the gateway. */
export interface DeviceIntakeDeps {
  store: StateStore;
  logger: Logger;
  availability: AvailabilityTracker;
  router: EventRouter;
}

/**
 * What drivers report, checked and routed: state (the hot path: one object in, the same
 * object routed), momentary events and descriptions. What does not fit is refused here,
 * counted and logged, and never reaches a host.
 */
export class DeviceIntake {
  // Held as fields, not read through the deps object: the state path runs for every reading.
  private readonly store: StateStore;
  private readonly logger: Logger;
  private readonly availability: AvailabilityTracker;
  private readonly router: EventRouter;
  /**
   * What each deeply frozen description handed in parsed to. A driver of many devices alike
   * (the sim driver: one description per report interval) hands the same frozen object for
   * each, and its zod parse was most of a device's start at N = 10,000; frozen, it cannot
   * have changed since it was checked. Anything else is parsed every time.
   */
  private readonly checked = new WeakMap<object, DeviceDescription>();

  constructor(deps: DeviceIntakeDeps) {
    this.store = deps.store;
    this.logger = deps.logger;
    this.availability = deps.availability;
    this.router = deps.router;
  }

  state(device: DeviceRuntime, event: StateEvent): void {
    const { channel, value } = event;
    if (typeof channel !== 'string' || channel.length === 0) {
      this.logger.warn({ device: device.id, channel }, `device ${device.id} emitted state without a channel name; ignored`);
      return;
    }
    // Scalars (nearly every reading) pass on a typeof; a structure is walked once, because a
    // device sending one nested thousands deep would overflow every JSON.stringify after here.
    if (typeof value === 'object' && value !== null && jsonDepthExceeds(value)) {
      this.logger.warn({ device: device.id, channel }, `device ${device.id} emitted ${channel} nested deeper than ${MAX_JSON_DEPTH} levels; ignored`);
      return;
    }
    const described = device.description?.channels[channel];
    if (described !== undefined) {
      if (described.kind === 'event') {
        // A driver's state on a channel it described as an event: routed as the event (a copy, on this rare path only).
        this.momentary(device, { ...event, kind: 'momentary' });
        return;
      }
      if (!fitsKind(described, value)) {
        this.wrongKind(device, channel, value);
        return;
      }
    }
    this.store.apply(event);
    device.emitted++;
    this.availability.heard(device);
    if (!device.paused) this.router.route(event, device.hosts);
  }

  momentary(device: DeviceRuntime, event: MomentaryEvent): void {
    const { channel, value } = event;
    if (typeof channel !== 'string' || channel.length === 0) {
      this.logger.warn({ device: device.id, channel }, `device ${device.id} reported a momentary event without a channel name; ignored`);
      return;
    }
    if (typeof value === 'object' && value !== null && jsonDepthExceeds(value)) {
      this.logger.warn({ device: device.id, channel }, `device ${device.id} reported a ${channel} event nested deeper than ${MAX_JSON_DEPTH} levels; ignored`);
      return;
    }
    device.emitted++;
    this.availability.heard(device);
    if (!device.paused) this.router.route(event, device.hosts);
  }

  describe(device: DeviceRuntime, input: unknown): void {
    const description = this.parse(device, input);
    if (description === undefined) return;
    device.description = description;
    device.wrongKindLogged = undefined;
    this.store.setDescription(device.id, description);
    const interval = description.reportIntervalMs;
    device.staleAfterMs = device.configuredStaleAfterMs ?? (interval === undefined ? undefined : 3 * interval);
    this.logger.info({ device: device.id, channels: Object.keys(description.channels).length }, `device ${device.id} described as "${description.name}"`);
    const now = Date.now();
    const event: DescriptionEvent = { kind: 'description', id: newEventId(now), time: now, origin: device.id, device: device.id, description };
    this.router.route(event, device.hosts);
    this.availability.arm(device);
  }

  /** The description checked (shared and frozen when `input` is frozen), or undefined when it was refused. */
  private parse(device: DeviceRuntime, input: unknown): DeviceDescription | undefined {
    const known = typeof input === 'object' && input !== null ? this.checked.get(input) : undefined;
    if (known !== undefined) return known;
    const parsed = DeviceDescriptionSchema.safeParse(input);
    if (!parsed.success) {
      device.descriptionsRefused++;
      const problems = parsed.error.issues.map((i) => `${formatPath('description', i.path)}: ${i.message}`);
      this.logger.warn({ device: device.id, problems }, `device ${device.id} sent a description that fails its schema; refused (${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''})`);
      return undefined;
    }
    // Only a deeply frozen input is remembered; its output is then shared by every device
    // that hands it in, so it is frozen too (a host changing one device's would change all).
    if (deeplyFrozen(input)) {
      const shared = deepFreeze(parsed.data);
      sharedDescriptions.add(shared);
      this.checked.set(input as object, shared);
    }
    return parsed.data;
  }

  /** A value that does not fit its described kind is not routed: counted, and logged once per channel. */
  private wrongKind(device: DeviceRuntime, channel: string, value: JsonValue): void {
    device.valuesRefused++;
    const logged = (device.wrongKindLogged ??= new Set());
    if (logged.has(channel)) return;
    logged.add(channel);
    const kind = device.description?.channels[channel]?.kind;
    this.logger.warn({ device: device.id, channel }, `device ${device.id} reported ${quoteForLog(value)} for ${channel}, which is described as ${kind}; not routed (logged once per channel)`);
  }
}

/**
 * Descriptions the intake shares between devices: deeply frozen, so whatever is derived from
 * one (the journal's JSON of it) holds for as long as the object lives.
 */
const sharedDescriptions = new WeakSet<object>();

/** Whether `description` is one the intake shares, deeply frozen (see {@link DeviceIntake}). */
export function isSharedDescription(description: object): boolean {
  return sharedDescriptions.has(description);
}

/**
 * Plain data (own data properties, plain objects and arrays) every object of which is frozen:
 * what can never read differently. False for a primitive (nothing to remember it by).
 */
function deeplyFrozen(value: unknown, depth = 0): boolean {
  if (typeof value !== 'object' || value === null || depth > MAX_JSON_DEPTH || !Object.isFrozen(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) return false;
  for (const property of Object.values(Object.getOwnPropertyDescriptors(value))) {
    // A getter may answer differently each time, frozen or not.
    if (!('value' in property)) return false;
    const child: unknown = property.value;
    if (typeof child === 'object' && child !== null && !deeplyFrozen(child, depth + 1)) return false;
  }
  return true;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    // Into frozen objects too: one frozen on the outside only is not yet shareable.
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
