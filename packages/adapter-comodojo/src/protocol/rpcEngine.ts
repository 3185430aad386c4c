import { createJSONRPCErrorResponse, JSONRPCServer, type JSONRPCID, type JSONRPCResponse } from 'json-rpc-2.0';
import { encryptPayload, encryptPayloadSliced, RESPONSE_PREFIX } from './encryption.js';
import { SLICED_ANSWER_CHARS, type RequestFrame, type ResponseFrame } from './framing.js';
import { decodeRequestPayload, type DecodedRequest } from './payload.js';
import { isPlainObject, RpcErrors, type CallContext, type MethodRegistry } from './registry.js';
import { toFault } from './systemMethods.js';
import { decodeCallSliced, encodeFault, encodeSuccess, SLICE_MS, type XmlCall } from './xmlRpc.js';


/** Options of {@link RpcEngine}. */
export interface RpcEngineOptions {
  registry: MethodRegistry;
  /** Pre-shared key of §1.9; absent = encryption off. */
  encryptionKey?: string | undefined;
  /** Called with every non-RPC error a method threw (answered as -32603 without details). */
  onInternal(error: unknown): void;
  /** Called once per unparseable or invalid request (-32700, -32600, -32300): one log line, one count. */
  onBadRequest(reason: string): void;
}

/** What one call needs from the connection it came on. */
export type CallHooks = Pick<CallContext, 'afterResponse'>;

/**
 * Turns one request frame into one response frame: decryption, per-frame protocol choice
 * (protocols/comodojo.md §1.8, never carried over), JSON-RPC 2.0 or XML-RPC dispatch, encryption.
 */
export class RpcEngine {
  private readonly json = new JSONRPCServer<CallContext>({ errorListener: () => undefined });

  constructor(private readonly options: RpcEngineOptions) {
    // §2.3 item 2: RPC errors keep code and message (no `data`); anything else is -32603.
    this.json.mapErrorToJSONRPCErrorResponse = (id: JSONRPCID, error: unknown) => {
      const fault = toFault(error, options.onInternal);
      return createJSONRPCErrorResponse(id, fault.faultCode, fault.faultString);
    };
    this.json.handleMethodNotFound = (request, call) =>
      options.registry.invoke(request.method, request.params, call as CallContext).then(
        (result) => (request.id === undefined ? null : { jsonrpc: '2.0', id: request.id, result: result ?? null }),
        (error: unknown) => (request.id === undefined ? null : this.json.mapErrorToJSONRPCErrorResponse(request.id, error)),
      );
  }

  /** Answers one request frame; never throws (§1.7: every non-blank request gets a reply). */
  async handle(frame: RequestFrame, hooks: CallHooks): Promise<ResponseFrame> {
    return this.answer(await decodeRequestPayload(frame, { encryptionKey: this.options.encryptionKey, decodeXml: decodeCallSliced }), hooks);
  }

  /** Logs and counts a bad request answered elsewhere (the decode worker), as one answered here would be. */
  reportBadRequest(reason: string): void {
    this.options.onBadRequest(reason);
  }

  /** Answers a request decoded already (here or in the decode worker); never throws. */
  async answer(request: DecodedRequest, hooks: CallHooks): Promise<ResponseFrame> {
    const { protocol, payload } = request;
    const call: CallContext = { protocol, afterResponse: hooks.afterResponse };
    let out: string | null;
    try {
      if (payload.kind === 'refused') {
        if (payload.internal !== undefined) this.options.onInternal(new Error(payload.internal));
        else if (payload.reason !== undefined) this.options.onBadRequest(payload.reason);
        out = protocol === 'json' ? JSON.stringify(createJSONRPCErrorResponse(null, payload.code, payload.message)) : encodeFault(payload.code, payload.message);
      } else {
        out = payload.kind === 'json' ? await this.answerJson(payload.value, call) : await this.answerXml(payload.call, call);
      }
    } catch (error) {
      this.options.onInternal(error);
      return { status: false, message: 'Internal error' };
    }
    if (out === null) return { status: true, message: null };
    // §1.9: encrypt the reply only when this request was encrypted (not the reference's sticky flag).
    if (!request.encrypted) return { status: true, message: out };
    const key = this.options.encryptionKey as string;
    return { status: true, message: RESPONSE_PREFIX + (out.length >= SLICED_ANSWER_CHARS ? await encryptPayloadSliced(key, out) : encryptPayload(key, out)) };
  }

  /** JSON-RPC 2.0 with the fixes of §2.1/§2.3. Returns null when there is nothing to answer. */
  private async answerJson(parsed: unknown, call: CallContext): Promise<string | null> {
    if (Array.isArray(parsed)) {
      // §2.3 item 1: one receive() per element, so a batch of one stays an array.
      // Each response is stringified as it comes, inside the slices: all at once at the end
      // was one more stall, as long as the answer is large. '[' + parts + ']' is the text
      // JSON.stringify gives for the whole array.
      const parts: string[] = [];
      let failed: { error: unknown } | undefined;
      let slice = performance.now() + SLICE_MS;
      for (const element of parsed) {
        const response = await this.jsonSingle(element, call);
        if (response && !failed) {
          try {
            parts.push(JSON.stringify(response));
          } catch (error) {
            // Thrown once every call has run, as stringifying the whole array would.
            failed = { error };
          }
        }
        // A long batch gives the event loop back now and then: one request must not stall everyone.
        if (performance.now() > slice) {
          await new Promise((resolve) => setImmediate(resolve));
          slice = performance.now() + SLICE_MS;
        }
      }
      if (failed) throw failed.error;
      return parts.length === 0 ? null : `[${parts.join(',')}]`;
    }
    const response = await this.jsonSingle(parsed, call);
    return response ? JSON.stringify(response) : null;
  }

  /** §2.3 item 3: validate the request object before the package sees it. */
  private async jsonSingle(request: unknown, call: CallContext): Promise<JSONRPCResponse | null> {
    const invalid = (id: unknown) => createJSONRPCErrorResponse(validId(id) ? (id as JSONRPCID) : null, RpcErrors.invalidRequest.code, RpcErrors.invalidRequest.message);
    const problem = requestProblem(request);
    if (problem) {
      this.options.onBadRequest(`invalid JSON-RPC request: ${problem}`);
      return invalid(isPlainObject(request) && problem !== 'bad id type' ? request['id'] : null);
    }
    const valid = request as Record<string, unknown>;
    const hasId = Object.hasOwn(valid, 'id');
    const params = valid['params'];
    const clean = { jsonrpc: '2.0' as const, method: valid['method'] as string, params: params ?? [] };
    // Every method goes through handleMethodNotFound, i.e. the registry: one place for lookup and signatures.
    return this.json.receive(hasId ? { ...clean, id: valid['id'] as JSONRPCID } : clean, call);
  }

  /** XML-RPC: one methodCall, one methodResponse (§3). */
  private async answerXml({ methodName, params }: XmlCall, call: CallContext): Promise<string> {
    let result: unknown;
    try {
      result = await this.options.registry.invoke(methodName, params, call);
    } catch (error) {
      const fault = toFault(error, this.options.onInternal);
      return encodeFault(fault.faultCode, fault.faultString);
    }
    try {
      return encodeSuccess(result);
    } catch (error) {
      const fault = toFault(error, this.options.onInternal);
      return encodeFault(fault.faultCode, fault.faultString);
    }
  }
}

/** What is wrong with a JSON-RPC request object (§2.1 "Gateway" column), or undefined. */
function requestProblem(request: unknown): string | undefined {
  if (!isPlainObject(request)) return 'not an object';
  if (Object.hasOwn(request, 'id') && !validId(request['id'])) return 'bad id type';
  if (request['jsonrpc'] !== '2.0') return 'jsonrpc is not "2.0"';
  if (typeof request['method'] !== 'string' || request['method'] === '') return 'method missing or not a string';
  const params = request['params'];
  if (params !== undefined && !Array.isArray(params) && !isPlainObject(params)) return 'params is neither an array nor an object';
  return undefined;
}

/** A usable id: string, finite number, boolean or null (booleans are echoed too, §8 item 13). */
function validId(id: unknown): boolean {
  return id === null || typeof id === 'string' || typeof id === 'boolean' || (typeof id === 'number' && Number.isFinite(id));
}
