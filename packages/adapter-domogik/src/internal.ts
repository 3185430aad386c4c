/**
 * `@patchbay/adapter-domogik/internal`: the plugin, the embedded bus (broker, forwarder), the MDP
 * client and worker, pub/sub, the sensor map and the wire codecs, for bench/ and tests only.
 * Not a stable surface; the public one is the package's `"."` entry.
 */
export { createDomogikAdapter, DomogikPlugin, type PluginInternals } from './adapter.js';
export { dataTypeFor, encodeSensorValue, familyOf, type DataTypeFamily, type SensorValue } from './protocol/dataTypes.js';
export { SensorMap, type ChannelRef, type CommandTarget, type SensorRef } from './protocol/mapping.js';
export {
  categoryOf,
  configValue,
  encodeJson,
  MDPC,
  MDPW,
  messageId,
  pluginStatuses,
  sanitizeHostname,
  type JsonObject,
  type PluginStatus,
} from './protocol/wire.js';
export { Broker, EmbeddedBus, Forwarder, type BrokerOptions, type BrokerTiming, type BusPorts, type EmbeddedBusOptions, type ForwarderOptions, type InprocEndpoints } from './transport/bus/index.js';
export { MdpClient, type MdpClientOptions, type MdpReply } from './transport/mq/client.js';
export { DomogikPublisher, DomogikSubscriber, type PublisherOptions, type SubscriberOptions } from './transport/mq/pubsub.js';
export { defaultWorkerTiming, MdpWorker, type MdpWorkerOptions, type WorkerReply, type WorkerRequest, type WorkerTiming } from './transport/mq/worker.js';
