import { createJSONRPCErrorResponse, type JSONRPCID, type JSONRPCResponse } from 'json-rpc-2.0';
import { encryptPayload, encryptPayloadSliced, RESPONSE_PREFIX } from './encryption.js';
import { SLICED_ANSWER_CHARS, type RequestFrame, type ResponseFrame } from './framing.js';
import { decodeRequestPayloadNow, type DecodedRequest, type PayloadOptions } from './payload.js';
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

/** The context a method gets: one small object per call, its afterResponse a method rather than a closure made per call. */
class Call implements CallContext {
  constructor(
    readonly protocol: 'json' | 'xml',
    private readonly hooks: CallHooks,
  ) {}

  afterResponse(fn: () => void): void {
    this.hooks.afterResponse(fn);
  }
}

type JsonAnswer = JSONRPCResponse | null;

/**
 * Turns one request frame into one response frame: decryption, per-frame protocol choice
 * (protocols/comodojo.md §1.8, never carried over), JSON-RPC 2.0 or XML-RPC dispatch, encryption.
 *
 * The usual call (one small JSON request whose method answers at once) is answered within the
 * caller's turn, with no promise: the `...Now` methods return a promise only where something
 * has to wait (XML decoding, a batch, an async method, a large encrypted answer).
 */
export class RpcEngine {
  private readonly payloadOptions: PayloadOptions;

  constructor(private readonly options: RpcEngineOptions) {
    this.payloadOptions = { encryptionKey: options.encryptionKey, decodeXml: decodeCallSliced };
  }

  /** Answers one request frame; never throws (§1.7: every non-blank request gets a reply). */
  async handle(frame: RequestFrame, hooks: CallHooks): Promise<ResponseFrame> {
    return this.handleNow(frame, hooks);
  }

  /** {@link handle}, answered within this turn when the frame allows it (a promise otherwise). */
  handleNow(frame: RequestFrame, hooks: CallHooks): ResponseFrame | Promise<ResponseFrame> {
    const request = decodeRequestPayloadNow(frame, this.payloadOptions);
    return request instanceof Promise ? request.then((decoded) => this.answerNow(decoded, hooks)) : this.answerNow(request, hooks);
  }

  /** Logs and counts a bad request answered elsewhere (the decode worker), as one answered here would be. */
  reportBadRequest(reason: string): void {
    this.options.onBadRequest(reason);
  }

  /** Answers a request decoded already (here or in the decode worker); never throws. */
  async answer(request: DecodedRequest, hooks: CallHooks): Promise<ResponseFrame> {
    return this.answerNow(request, hooks);
  }

  /** {@link answer}, within this turn when the request allows it (a promise otherwise). */
  answerNow(request: DecodedRequest, hooks: CallHooks): ResponseFrame | Promise<ResponseFrame> {
    const { protocol, payload } = request;
    let out: string | null | Promise<string | null>;
    try {
      if (payload.kind === 'refused') {
        if (payload.internal !== undefined) this.options.onInternal(new Error(payload.internal));
        else if (payload.reason !== undefined) this.options.onBadRequest(payload.reason);
        out = protocol === 'json' ? JSON.stringify(createJSONRPCErrorResponse(null, payload.code, payload.message)) : encodeFault(payload.code, payload.message);
      } else {
        const call = new Call(protocol, hooks);
        out = payload.kind === 'json' ? this.answerJsonNow(payload.value, call) : this.answerXml(payload.call, call);
      }
    } catch (error) {
      return this.internalError(error);
    }
    return out instanceof Promise ? this.finishLater(out, request.encrypted) : this.finish(out, request.encrypted);
  }

  private internalError(error: unknown): ResponseFrame {
    this.options.onInternal(error);
    return { status: false, message: 'Internal error' };
  }

  private async finishLater(out: Promise<string | null>, encrypted: boolean): Promise<ResponseFrame> {
    let text: string | null;
    try {
      text = await out;
    } catch (error) {
      return this.internalError(error);
    }
    return this.finish(text, encrypted);
  }

  /** The response frame for the answer's text (null: nothing to answer). */
  private finish(out: string | null, encrypted: boolean): ResponseFrame | Promise<ResponseFrame> {
    if (out === null) return { status: true, message: null };
    // §1.9: encrypt the reply only when this request was encrypted (not the reference's sticky flag).
    if (!encrypted) return { status: true, message: out };
    const key = this.options.encryptionKey as string;
    if (out.length >= SLICED_ANSWER_CHARS) return this.encryptSliced(key, out);
    return { status: true, message: RESPONSE_PREFIX + encryptPayload(key, out) };
  }

  private async encryptSliced(key: string, out: string): Promise<ResponseFrame> {
    return { status: true, message: RESPONSE_PREFIX + (await encryptPayloadSliced(key, out)) };
  }

  /** JSON-RPC 2.0 with the fixes of §2.1/§2.3: a single request within this turn when its method allows. Null: nothing to answer. */
  private answerJsonNow(parsed: unknown, call: CallContext): string | null | Promise<string | null> {
    if (Array.isArray(parsed)) return this.answerBatch(parsed, call);
    const response = this.jsonSingleNow(parsed, call);
    return response instanceof Promise ? response.then(stringifyAnswer) : stringifyAnswer(response);
  }

  private async answerBatch(batch: unknown[], call: CallContext): Promise<string | null> {
    // §2.3 item 1: one request at a time, so a batch of one stays an array.
    // Each response is stringified as it comes, inside the slices: all at once at the end
    // was one more stall, as long as the answer is large. '[' + parts + ']' is the text
    // JSON.stringify gives for the whole array.
    const parts: string[] = [];
    let failed: { error: unknown } | undefined;
    let slice = performance.now() + SLICE_MS;
    for (const element of batch) {
      const response = await this.jsonSingleNow(element, call);
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

  /**
   * One JSON-RPC request: §2.3 item 3, the request object is validated before any method sees
   * it; then every method goes through the registry, one place for lookup and signatures. This
   * is what json-rpc-2.0's JSONRPCServer.receive did with it (all our methods came to it as
   * "not found"), without its promises, so that a method that answers at once is answered at once.
   */
  private jsonSingleNow(request: unknown, call: CallContext): JsonAnswer | Promise<JsonAnswer> {
    const problem = requestProblem(request);
    if (problem) {
      this.options.onBadRequest(`invalid JSON-RPC request: ${problem}`);
      const id = isPlainObject(request) && problem !== 'bad id type' ? request['id'] : null;
      return createJSONRPCErrorResponse(validId(id) ? (id as JSONRPCID) : null, RpcErrors.invalidRequest.code, RpcErrors.invalidRequest.message);
    }
    const valid = request as Record<string, unknown>;
    // A notification (no id) gets no answer, not even an error.
    const id = Object.hasOwn(valid, 'id') ? (valid['id'] as JSONRPCID) : undefined;
    let result: unknown;
    try {
      result = this.options.registry.invokeNow(valid['method'], valid['params'] ?? [], call);
    } catch (error) {
      return this.errorAnswer(id, error);
    }
    if (result instanceof Promise) return this.settleLater(id, result);
    return id === undefined ? null : { jsonrpc: '2.0', id, result: result ?? null };
  }

  private async settleLater(id: JSONRPCID | undefined, result: Promise<unknown>): Promise<JsonAnswer> {
    let value: unknown;
    try {
      value = await result;
    } catch (error) {
      return this.errorAnswer(id, error);
    }
    return id === undefined ? null : { jsonrpc: '2.0', id, result: value ?? null };
  }

  /** §2.3 item 2: RPC errors keep code and message (no `data`); anything else is -32603. */
  private errorAnswer(id: JSONRPCID | undefined, error: unknown): JsonAnswer {
    if (id === undefined) return null;
    const fault = toFault(error, this.options.onInternal);
    return createJSONRPCErrorResponse(id, fault.faultCode, fault.faultString);
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

function stringifyAnswer(response: JsonAnswer): string | null {
  return response ? JSON.stringify(response) : null;
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
