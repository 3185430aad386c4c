/**
 * @patchbay/adapter-domogik: Patchbay as a Domogik plugin on the Domogik ZeroMQ bus
 * (protocols/domogik.md), and an embedded bus (broker + forwarder compatible with
 * domogik-mq) so that Domogik-speaking programs can run without Domogik.
 */
import { defineAdapter } from '@patchbay/core';
import { domogikConfig } from './config.js';
import { DomogikPlugin } from './plugin.js';

export { Broker, EmbeddedBus, Forwarder, type BrokerOptions, type BrokerTiming, type BusPorts, type EmbeddedBusOptions, type ForwarderOptions, type InprocEndpoints } from './bus/index.js';
export { domogikConfig, type DomogikConfig } from './config.js';
export { SensorMap, type ChannelRef, type CommandTarget } from './mapping.js';
export { MdpClient, type MdpClientOptions, type MdpReply } from './mq/client.js';
export { DomogikPublisher, DomogikSubscriber, type PublisherOptions, type SubscriberOptions } from './mq/pubsub.js';
export { defaultWorkerTiming, MdpWorker, type MdpWorkerOptions, type WorkerReply, type WorkerRequest, type WorkerTiming } from './mq/worker.js';
export { DomogikPlugin, type PluginInternals } from './plugin.js';
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
} from './protocol.js';

/** The `domogik` host adapter definition. */
const domogikAdapter = defineAdapter({
  type: 'domogik',
  description: 'Domogik: a plugin on the Domogik ZeroMQ bus (client.sensor out, client.cmd in), or on an embedded bus',
  config: domogikConfig,
  create: (config, ctx) => new DomogikPlugin(config, ctx),
});

export default domogikAdapter;
