/**
 * @patchbay/core: the event model, the router with its per-host outboxes, the state store,
 * supervision, and the definitions API that drivers and adapters are written against.
 * This file is the package's whole public surface.
 */
export { Backoff, defaultBackoff, type BackoffPolicy } from './backoff.js';
export { jsonDepthExceeds, MAX_JSON_DEPTH } from './commands.js';
export {
  assertDefinition,
  assertInstance,
  defineAdapter,
  defineDriver,
  type EmbeddedContext,
  type EmbeddedDefaults,
  type Adapter,
  type AdapterDefinition,
  type AnyDefinition,
  type Driver,
  type DriverContext,
  type DriverDefinition,
  type EndpointContext,
  type HostContext,
  type HttpHandler,
  type HttpMount,
  type SubmitOptions,
  type UpgradeHandler,
} from './definitions.js';
export {
  ActionDescriptionSchema,
  AvailabilitySchema,
  ChannelClassSchema,
  ChannelDescriptionSchema,
  ChannelKindSchema,
  coerceValue,
  DeviceDescriptionSchema,
  fitsKind,
  StateClassSchema,
  type ActionDescription,
  type Availability,
  type ChannelClass,
  type ChannelDescription,
  type ChannelKind,
  type CoercedValue,
  type DeviceDescription,
  type DeviceDescriptionInput,
  type StateClass,
} from './description.js';
export { describeError, ErrorCodes, isPatchbayError, isTransient, PatchbayError, toPatchbayError, type ErrorCode } from './errors.js';
export {
  AvailabilityEventSchema,
  CommandEventSchema,
  DescriptionEventSchema,
  MomentaryEventSchema,
  CommandInputSchema,
  EndpointStatusSchema,
  EventSchema,
  JsonValueSchema,
  MAX_NAME_LENGTH,
  newEventId,
  ReplyEventSchema,
  StateEventSchema,
  stateKey,
  StatusEventSchema,
  type AvailabilityEvent,
  type CommandEvent,
  type CommandInput,
  type DescriptionEvent,
  type MomentaryEvent,
  type EndpointStatus,
  type JsonValue,
  type Meta,
  type OutboundEvent,
  type PatchbayEvent,
  type ReplyEvent,
  type ReplyInit,
  type StateEvent,
  type StatusEvent,
} from './events.js';
export { createGateway, defaultGatewayTimeouts, type Gateway, type GatewayOptions } from './gateway.js';
export { remoteDeviceProblem, type RemoteDeviceSpec } from './remote.js';
export { planEndpoints, sameEndpoint, type ReloadPlan, type ReloadResult, type ReloadSpec } from './reload.js';
export type { ChannelState, ClusterGatewayHealth, ClusterHealth, DeviceInfo, DeviceState, EndpointHealth, GatewayHealth, InputHealth, StateSnapshot } from './health.js';
export { defaultInputBudgetBytes, InputBudget } from './inputBudget.js';
export { isSharedDescription } from './deviceIntake.js';
export type { Journal, JournalCorruption, JournalHealth, JournalOwner, JournalRecovery } from './journal.js';
export { quoteForLog, silentLogger, type LogFn, type Logger } from './logger.js';
export { latencyBuckets, noopMetrics, type Counter, type Histogram, type HistogramSpec, type MetricsSink } from './metrics.js';
export { defaultOutboxOptions, type OutboxOptions } from './outbox.js';
export { checkEndpoints, formatPath, optionsParser, zodIssues, type EndpointSpec, type OptionsParse, type RouteSpec, type SpecIssue } from './spec.js';
export { defaultRestartPolicy, type RestartPolicy } from './supervisor.js';
export { Waitress } from './waitress.js';
