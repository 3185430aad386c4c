/** Internals for this package's tests and bench/mqtt: the pure protocol and the transports. */
export * from './protocol/discovery.js';
export * from './protocol/payload.js';
export * from './protocol/topics.js';
export type * from './protocol/description.js';
export { EmbeddedBroker, type EmbeddedBrokerOptions } from './transport/broker.js';
export { brokerSettings, clientOptions, openClient, redactUrl, untilFirstConnect, wireClient, type BrokerSettings, type ClientOptions } from './transport/client.js';
