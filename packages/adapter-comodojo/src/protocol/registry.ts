import { MAX_NAME_LENGTH, quoteForLog } from '@patchbay/core';

/**
 * The one method registry (protocols/comodojo.md §2.3 item 4, §4): name, description and
 * signatures, feeding JSON dispatch, XML dispatch and the `system.*` introspection methods.
 */

/** Parameter and return type names after normalisation (§4.1). */
export type RpcType = 'int' | 'double' | 'boolean' | 'base64' | 'dateTime.iso8601' | 'string' | 'array' | 'struct' | 'null' | 'undefined';

/** One signature: named, typed parameters and a return type. */
export interface RpcSignature {
  params: readonly { name: string; type: RpcType }[];
  returns: RpcType;
}

/** What a method handler gets besides its arguments. */
export interface CallContext {
  protocol: 'json' | 'xml';
  /** Run `fn` once the response to this call has been written (daemon.shutdown). */
  afterResponse(fn: () => void): void;
}

/** A method: bound arguments by parameter name, returns the result (or throws an {@link RpcError}). */
export type RpcHandler = (args: Record<string, unknown>, call: CallContext) => unknown;

/** A registered method. */
export interface RpcMethod {
  name: string;
  /** What `system.methodHelp` returns; null when absent (§4.4). */
  description: string | null;
  signatures: readonly RpcSignature[];
  handler: RpcHandler;
  /** Only callable over XML-RPC (system.multicall, §2.1: -31000 over JSON). */
  xmlOnly?: boolean;
  /** The parameters that name a device, and how a name past core's MAX_NAME_LENGTH is refused. */
  names?: Readonly<Record<string, LongNameRefusal>>;
}

/**
 * How a method refuses a name longer than any device's (issue 13.8): before its handler runs, in
 * the decode worker as on the gateway thread, so a 20 MB name never crosses over. Plain data, so
 * that the worker gets it with the method's shape.
 */
export interface LongNameRefusal {
  code: number;
  message: string;
  /** The message quotes the name, cut (quoteForLog); false for a text the protocol fixes (-32603). */
  quote: boolean;
}

/** What of a method decides whether a call is refused before it runs: its name, signatures, protocols and name parameters. */
export type MethodShape = Pick<RpcMethod, 'name' | 'signatures' | 'xmlOnly' | 'names'>;

/** The error codes and exact reference texts of §5. */
export const RpcErrors = {
  parse: { code: -32700, message: 'Parse error' },
  invalidRequest: { code: -32600, message: 'Invalid Request' },
  methodNotFound: { code: -32601, message: 'Method not found' },
  invalidParams: { code: -32602, message: 'Invalid params' },
  internal: { code: -32603, message: 'Internal error' },
  application: { code: -32500, message: 'Application error' },
  transport: { code: -32300, message: 'Transport error' },
  multicallJson: { code: -31000, message: 'Multicall is available only in XMLRPC' },
  multicallRecursive: { code: -31001, message: 'Recursive system.multicall forbidden' },
} as const;

/** An RPC-level error: its code and message go to the caller unchanged, in both protocols. */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(
    readonly code: number,
    message: string,
    /** Why, for the log line only; never sent to the caller. */
    readonly detail?: string,
  ) {
    super(message);
  }

  /** One of the standard errors of §5. */
  static of(kind: keyof typeof RpcErrors, detail?: string): RpcError {
    return new RpcError(RpcErrors[kind].code, RpcErrors[kind].message, detail);
  }
}

/** A plain object (JSON object or decoded XML struct), not an array or null. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

const ISO_DATE = /^\d{4}-?\d{2}-?\d{2}T\d{2}:?\d{2}:?\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;

/** The gateway's type checks (§4.2 "Gateway rules"). */
export function checkType(type: RpcType, value: unknown): boolean {
  switch (type) {
    case 'int':
      return Number.isInteger(value);
    case 'double':
      // Documented relaxation: JS cannot tell 1 from 1.0 after JSON.parse.
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'null':
      return value === null;
    case 'array':
      return Array.isArray(value);
    case 'struct':
      return isPlainObject(value) || (Array.isArray(value) && value.length === 0);
    case 'base64':
      return typeof value === 'string' && Buffer.from(value, 'base64').toString('base64') === value;
    case 'dateTime.iso8601':
      // Gateway extension: the reference answers "Bad validation type" here (§7 item 6).
      return typeof value === 'string' && ISO_DATE.test(value);
    case 'undefined':
      // Gateway extension: "any value" instead of the reference's "Bad validation type".
      return value !== undefined;
  }
}

/** Ordered method registry with signature matching. */
export class MethodRegistry {
  private readonly methods = new Map<string, RpcMethod>();
  /** Bumped by every add, so that a copy of the methods' shapes (the decode worker's) knows when it is out of date. */
  version = 0;

  /** Adds a method after the ones already there (registration order is `system.listMethods` order). */
  add(method: RpcMethod): this {
    if (this.methods.has(method.name)) throw new Error(`method ${method.name} is already registered`);
    if (method.signatures.length === 0) throw new Error(`method ${method.name} needs at least one signature`);
    this.methods.set(method.name, method);
    this.version++;
    return this;
  }

  /** Every method without its handler: plain data, for the decode worker to refuse calls that no method accepts. */
  shapes(): MethodShape[] {
    return [...this.methods.values()].map(({ name, signatures, xmlOnly, names }) => ({ name, signatures, ...(xmlOnly ? { xmlOnly } : {}), ...(names ? { names } : {}) }));
  }

  get(name: string): RpcMethod | undefined {
    return this.methods.get(name);
  }

  names(): string[] {
    return [...this.methods.keys()];
  }

  /**
   * Finds the method and the first matching signature (§4.2 positional, §4.3 named), binds the
   * arguments and runs it. Throws -32601 / -32602 / -31000 as RpcErrors; the handler's own
   * throws pass through for the caller to map.
   */
  async invoke(name: unknown, params: unknown, call: CallContext): Promise<unknown> {
    return this.invokeNow(name, params, call);
  }

  /**
   * {@link invoke} without the promise, for the usual call whose handler answers at once: the
   * refusals are thrown here, and the handler's result is returned as it is (a promise only if
   * the handler returned one).
   */
  invokeNow(name: unknown, params: unknown, call: CallContext): unknown {
    const method = typeof name === 'string' ? this.methods.get(name) : undefined;
    if (!method) throw RpcError.of('methodNotFound');
    if (method.xmlOnly && call.protocol === 'json') throw RpcError.of('multicallJson');
    const args = bind(method, params);
    if (!args) throw RpcError.of('invalidParams');
    if (method.names) refuseLongNames(method.names, args);
    return method.handler(args, call);
  }
}

function refuseLongNames(names: Readonly<Record<string, LongNameRefusal>>, args: Record<string, unknown>): void {
  // for...in rather than Object.entries: this runs on every call of a device method, and needs no array.
  for (const param in names) {
    const value = args[param];
    if (typeof value !== 'string' || value.length <= MAX_NAME_LENGTH) continue;
    const refusal = names[param] as LongNameRefusal;
    throw new RpcError(refusal.code, refusal.quote ? `${refusal.message} ${quoteForLog(value)}: a device name has at most ${MAX_NAME_LENGTH} characters` : refusal.message);
  }
}

function bind(method: RpcMethod, params: unknown): Record<string, unknown> | undefined {
  const list = params === undefined ? [] : params;
  for (const signature of method.signatures) {
    const args: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    if (Array.isArray(list)) {
      if (list.length !== signature.params.length || !matchesPositional(signature, list)) continue;
      for (let i = 0; i < list.length; i++) args[(signature.params[i] as RpcSignature['params'][number]).name] = list[i];
      return args;
    }
    if (isPlainObject(list)) {
      const keys = Object.keys(list);
      if (keys.length !== signature.params.length) continue;
      if (!signature.params.every((p) => Object.hasOwn(list, p.name) && checkType(p.type, list[p.name]))) continue;
      for (const p of signature.params) args[p.name] = list[p.name];
      return args;
    }
    return undefined;
  }
  return undefined;
}

/** Positional arguments of the right count fit the signature's types (a plain loop: every call of a positional method comes here). */
function matchesPositional(signature: RpcSignature, list: readonly unknown[]): boolean {
  for (let i = 0; i < list.length; i++) {
    if (!checkType((signature.params[i] as RpcSignature['params'][number]).type, list[i])) return false;
  }
  return true;
}

/** `system.methodSignature` shape (§4.4): flat for one signature, nested for several. */
export function describeSignatures(method: RpcMethod): string[] | string[][] {
  const flat = method.signatures.map((s) => [s.returns, ...s.params.map((p) => p.type)]);
  return flat.length === 1 ? (flat[0] as string[]) : flat;
}

/** Shorthand for a signature: `sig('int', ['worker', 'string'])`. */
export function sig(returns: RpcType, ...params: [name: string, type: RpcType][]): RpcSignature {
  return { returns, params: params.map(([name, type]) => ({ name, type })) };
}
