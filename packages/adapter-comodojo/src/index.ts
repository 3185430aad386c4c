/**
 * @patchbay/adapter-comodojo: the comodojo/daemon RPC socket (protocols/comodojo.md), serving
 * JSON-RPC 2.0 and XML-RPC over base64 PHP-serialised frames on a unix or TCP socket. The
 * public surface is the definition, its options, and what a project needs to add its own
 * methods (§4.6); framing, codecs and the socket server for bench and tests are in
 * `@patchbay/adapter-comodojo/internal`.
 */
import { createComodojoDefinition } from './adapter.js';

export { createComodojoDefinition, type ComodojoAdapter, type ComodojoDefinitionOptions } from './adapter.js';
export { comodojoConfig, type ComodojoConfig } from './config.js';
export { ComodojoErrorCodes } from './gatewayMethods.js';
export { RpcError, RpcErrors, sig, type CallContext, type MethodRegistry, type RpcHandler, type RpcMethod, type RpcSignature, type RpcType } from './protocol/registry.js';

/** The `comodojo` adapter definition. */
const comodojo = createComodojoDefinition();
export default comodojo;
