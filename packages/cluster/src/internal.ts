/** Internals for this package's tests and the bench: the topic layout and the payloads. */
export * from './protocol/payload.js';
export * from './protocol/topics.js';
