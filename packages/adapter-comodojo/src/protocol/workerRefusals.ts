import { encodeResponse } from './framing.js';
import type { DecodedRequest } from './payload.js';
import { MethodRegistry, type MethodShape } from './registry.js';
import { RpcEngine } from './rpcEngine.js';

/**
 * Issue 13.8: in the decode worker, a large request that will be refused anyway (unparseable,
 * an Invalid Request, a method not found, params no signature accepts, a batch past the cap)
 * is answered there, so the gateway's thread never receives the large value it decoded to
 * (copying a 20 MB string or 50,000 objects across is itself a stall of that thread).
 *
 * The reply is made by the same RpcEngine the gateway runs, on a registry of the same methods
 * whose handlers only say "a method would run": if none would, and nothing failed, the reply is
 * the gateway's own, byte for byte. Otherwise the request goes to the gateway as it is.
 */

/** A request answered in the worker: the reply line, and the bad-request reasons for the gateway to log and count. */
export interface WorkerAnswer {
  text: string;
  badRequests: string[];
}

/** Answers, in the worker, the requests no method would run for. */
export class RefusalEngine {
  private readonly engine: RpcEngine;
  /** Set while answering: a handler was reached, or something failed (the gateway logs those itself). */
  private needsGateway = false;
  private badRequests: string[] = [];

  constructor(shapes: readonly MethodShape[], encryptionKey: string | undefined) {
    const registry = new MethodRegistry();
    const reached = (): never => {
      this.needsGateway = true;
      throw new Error('a method would run: the gateway answers this request');
    };
    for (const shape of shapes) registry.add({ ...shape, description: null, handler: reached });
    this.engine = new RpcEngine({
      registry,
      encryptionKey,
      onInternal: () => (this.needsGateway = true),
      onBadRequest: (reason) => this.badRequests.push(reason),
    });
  }

  /** The reply, when no method would run for `request`; undefined when the gateway must answer it. One request at a time. */
  async answer(request: DecodedRequest): Promise<WorkerAnswer | undefined> {
    this.needsGateway = false;
    this.badRequests = [];
    const after: (() => void)[] = [];
    const response = await this.engine.answer(request, { afterResponse: (fn) => after.push(fn) });
    if (this.needsGateway || after.length > 0) return undefined;
    return { text: encodeResponse(response), badRequests: this.badRequests };
  }
}
