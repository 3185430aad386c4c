/**
 * `@patchbay/adapter-comodojo/internal`: the framing, the PHP serialiser, the XML-RPC codec,
 * payload encryption, the RPC engine and the socket server, for bench/ and tests only. Not a
 * stable surface; the public one is the package's `"."` entry.
 */
export { decryptPayload, encryptPayload, REQUEST_PREFIX, RESPONSE_PREFIX } from './protocol/encryption.js';
export { decodeFrame, decodeRequest, decodeResponse, encodeFrame, encodeResponse, GREETER, LineSplitter, type RequestFrame, type ResponseFrame } from './protocol/framing.js';
export { serialize, unserialize, type PhpArray, type PhpValue, type UnserializeLimits } from './protocol/phpSerialize.js';
export { checkType, MethodRegistry } from './protocol/registry.js';
export { RpcEngine, type RpcEngineOptions } from './protocol/rpcEngine.js';
export { decodeCall, encodeFault, encodeSuccess, encodeValue, type XmlCall } from './protocol/xmlRpc.js';
export { DEFAULT_PORT, formatAddress, parseAddress, type SocketAddress } from './transport/address.js';
export { ComodojoServer, type ComodojoServerOptions } from './transport/server.js';
export { OFFLOAD_BYTES, type ConnectionOptions } from './transport/connection.js';
export { holdDecodes } from './protocol/decodePool.js';
