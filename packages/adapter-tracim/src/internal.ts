/**
 * `@patchbay/adapter-tracim/internal`: the master and client, wire codecs and transports, for
 * bench/ and tests only. Not a stable surface; the public one is the package's `"."` entry.
 */
export { createTracimAdapter } from './adapter.js';
export { TracimClient } from './modes/client.js';
export { defaultMasterSocketPath, expandHome, tracimAccountConfig } from './config.js';
export { STATE_EVENT_TYPE, TracimMaster, type ClientStatus } from './modes/master.js';
export { MasterClients } from './modes/masterClients.js';
export { MasterTlms } from './modes/masterTlms.js';
export { EventIds, MAX_EVENT_ID } from './protocol/eventIds.js';
export { SseParser, type SseEvent } from './protocol/sse.js';
export { decodeEnvelope, encodeEnvelope, EventTypes, MAX_WIRE_BYTES, tlmTime, type ClientData, type DaemonEvent, type Tlm } from './protocol/wire.js';
export { Destination, type DestinationHooks, type DestinationOptions, type Outgoing } from './transport/destination.js';
export { InboundListener, type InboundOptions } from './transport/inbound.js';
export { sendOnce } from './transport/sendOnce.js';
export { claimSocketPath, listenUnix, probeSocket, removeSocketFile } from './transport/socketFile.js';
export { TracimStream, type TracimStreamHooks } from './transport/tracimStream.js';
