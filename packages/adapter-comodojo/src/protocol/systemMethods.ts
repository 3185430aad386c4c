import { describeSignatures, isPlainObject, RpcError, sig, type CallContext, type MethodRegistry } from './registry.js';

/**
 * The reserved `system.*` methods, registered first and in this order (protocols/comodojo.md §4.4).
 */

const capabilities = {
  xmlrpc: { specUrl: 'http://www.xmlrpc.com/spec', specVersion: 1 },
  'system.multicall': { specUrl: 'http://www.xmlrpc.com/discuss/msgReader$1208', specVersion: 1 },
  introspection: { specUrl: 'http://phpxmlrpc.sourceforge.net/doc-2/ch10.html', specVersion: 2 },
  nil: { specUrl: 'http://www.ontosys.com/xml-rpc/extensions.php', specVersion: 1 },
  faults_interop: { specUrl: 'http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php', specVersion: 20010516 },
  'json-rpc': { specUrl: 'http://www.jsonrpc.org/specification', specVersion: 2 },
};

/** A fault struct as a multicall entry carries it (§3.3). */
export interface FaultStruct {
  faultCode: number;
  faultString: string;
}

/** Maps anything a method threw to its RPC code and text; non-RPC errors become -32603 (no details leak). */
export function toFault(error: unknown, onInternal: (error: unknown) => void): FaultStruct {
  if (error instanceof RpcError) return { faultCode: error.code, faultString: error.message };
  onInternal(error);
  return { faultCode: -32603, faultString: 'Internal error' };
}

/** Registers the five `system.*` methods on an empty registry. */
export function addSystemMethods(registry: MethodRegistry, onInternal: (error: unknown) => void): void {
  const lookup = (name: unknown) => {
    const method = registry.get(String(name));
    if (!method) throw RpcError.of('methodNotFound');
    return method;
  };
  registry
    .add({
      name: 'system.getCapabilities',
      description: 'This method lists all the capabilites that the RPC server has: the (more or less standard) extensions to the RPC spec that it adheres to',
      signatures: [sig('struct')],
      handler: () => capabilities,
    })
    .add({
      name: 'system.listMethods',
      description: 'This method lists all the methods that the RPC server knows how to dispatch',
      signatures: [sig('array')],
      handler: () => registry.names(),
    })
    .add({
      name: 'system.methodHelp',
      description: 'Returns help text if defined for the method passed, otherwise returns an empty string',
      signatures: [sig('string', ['method', 'string'])],
      handler: (args) => lookup(args['method']).description,
    })
    .add({
      name: 'system.methodSignature',
      description: 'Returns an array of known signatures (an array of arrays) for the method name passed.',
      signatures: [sig('array', ['method', 'string'])],
      handler: (args) => describeSignatures(lookup(args['method'])),
    })
    .add({
      name: 'system.multicall',
      description: 'Boxcar multiple RPC calls in one request. See http://www.xmlrpc.com/discuss/msgReader$1208 for details',
      signatures: [sig('array', ['requests', 'array'])],
      xmlOnly: true,
      handler: (args, call) => multicall(registry, { requests: args['requests'] as unknown[], call, onInternal }),
    });
}

/** §3.3: each entry's result unwrapped, or its fault struct; nested multicall and malformed entries are faults. */
async function multicall(registry: MethodRegistry, options: { requests: unknown[]; call: CallContext; onInternal: (error: unknown) => void }): Promise<unknown[]> {
  const results: unknown[] = [];
  for (const entry of options.requests) {
    if (!isPlainObject(entry) || typeof entry['methodName'] !== 'string' || !Array.isArray(entry['params'])) {
      results.push(toFault(RpcError.of('invalidRequest'), options.onInternal));
      continue;
    }
    if (entry['methodName'] === 'system.multicall') {
      results.push(toFault(RpcError.of('multicallRecursive'), options.onInternal));
      continue;
    }
    try {
      results.push(await registry.invoke(entry['methodName'], entry['params'], options.call));
    } catch (error) {
      results.push(toFault(error, options.onInternal));
    }
  }
  return results;
}
