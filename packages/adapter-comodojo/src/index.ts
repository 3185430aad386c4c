/**
 * @patchbay/adapter-comodojo: the comodojo/daemon RPC socket (protocols/comodojo.md), serving
 * JSON-RPC 2.0 and XML-RPC over base64 PHP-serialised frames on a unix or TCP socket.
 */
import { createComodojoDefinition } from './adapter.js';

export { createComodojoDefinition, type ComodojoAdapter, type ComodojoDefinitionOptions } from './adapter.js';
export { DEFAULT_PORT, formatAddress, parseAddress, type SocketAddress } from './address.js';
export { comodojoConfig, type ComodojoConfig } from './config.js';
export { decryptPayload, encryptPayload, REQUEST_PREFIX, RESPONSE_PREFIX } from './encryption.js';
export { decodeFrame, decodeRequest, decodeResponse, encodeFrame, encodeResponse, GREETER, LineSplitter, type RequestFrame, type ResponseFrame } from './framing.js';
export { ComodojoErrorCodes } from './gatewayMethods.js';
export { serialize, unserialize, type PhpArray, type PhpValue, type UnserializeLimits } from './phpSerialize.js';
export { checkType, MethodRegistry, RpcError, RpcErrors, sig, type CallContext, type RpcHandler, type RpcMethod, type RpcSignature, type RpcType } from './registry.js';
export { RpcEngine, type RpcEngineOptions } from './rpcEngine.js';
export { decodeCall, encodeFault, encodeSuccess, encodeValue, type XmlCall } from './xmlRpc.js';

/** The `comodojo` adapter definition. */
const comodojo = createComodojoDefinition();
export default comodojo;
