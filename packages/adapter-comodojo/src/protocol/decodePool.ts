import { Worker } from 'node:worker_threads';
import type { LargeLine } from './framing.js';
import type { DecodedRequest } from './payload.js';
import type { MethodRegistry, MethodShape } from './registry.js';
import type { WorkerAnswer } from './workerRefusals.js';

/**
 * Issue 13.8: a large frame is decoded (base64, PHP frame, decryption, JSON.parse or the XML
 * decoder) on a worker thread, so one 16 MiB request does not hold every device and host for
 * the hundreds of ms that takes here, nor leave its garbage on the gateway's heap. One worker,
 * one frame at a time; frames wait their turn in order. The wait is bounded without a count of
 * its own: every frame waiting here is input the listener holds, charged to `maxBufferedBytes`
 * until it is answered, so a connection that would queue more is refused "Server busy".
 * Frames below the server's threshold never come here: a usual request stays on this thread
 * and pays no thread hop.
 */

/** Blocks of a frame's line posted in one message (see {@link DecodePool}'s handOver). */
export const HANDOVER_BLOCKS = 32;

/**
 * What the worker is given: a frame's raw line (untrimmed) in blocks, their memory
 * transferred, over one or more messages; `last` on the frame's final one.
 */
export interface DecodeJob {
  blocks: Uint8Array[];
  last: boolean;
}

/**
 * What the worker answers: the request decoded, its reply when no method would run for it
 * (workerRefusals.ts), or why the frame itself is bad (§1.7 status false).
 */
export type DecodeResult = { kind: 'decoded'; request: DecodedRequest } | ({ kind: 'answered' } & WorkerAnswer) | { kind: 'badFrame'; reason: string };

interface Pending {
  line: LargeLine;
  resolve(result: DecodeResult): void;
  reject(error: Error): void;
}

/** The one decode worker of a listener, started at the first large frame. */
export class DecodePool {
  private worker: Worker | undefined;
  private running: Pending | undefined;
  private readonly waiting: Pending[] = [];
  private stopped = false;
  /** Messages posted to workers so far (tests: a large frame goes over in several). */
  handedOver = 0;
  /** The registry version whose methods the worker was given. */
  private workerVersion = -1;

  /** `registry`: the methods the worker refuses calls against (a copy, renewed when methods are added). */
  constructor(private readonly options: { encryptionKey?: string | undefined; registry: MethodRegistry }) {}

  /** Frames waiting or being decoded (tests: a frame is in the worker while others are answered). */
  get busy(): number {
    return this.waiting.length + (this.running ? 1 : 0);
  }

  /**
   * Decodes `line`, whose blocks this takes over (their memory moves to the worker). Rejects
   * when the worker dies on it (the caller answers "Internal error"; the next frame gets a new worker).
   */
  decode(line: LargeLine): Promise<DecodeResult> {
    if (this.stopped) return Promise.reject(new Error('the comodojo decode worker is stopped'));
    return new Promise((resolve, reject) => {
      this.waiting.push({ line, resolve, reject });
      this.next();
    });
  }

  /** Starts the worker if it is not running: a large frame is arriving, so its start overlaps the transfer. */
  warm(): void {
    if (!this.stopped) this.worker ??= this.spawn();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const worker = this.worker;
    this.worker = undefined;
    this.fail(new Error('the comodojo listener stopped'));
    await worker?.terminate();
  }

  private next(): void {
    if (this.running || this.stopped) return;
    const job = this.waiting.shift();
    if (!job) return;
    this.running = job;
    if (this.worker && this.workerVersion !== this.options.registry.version) {
      // Methods were added since the worker started: a new one gets them (rare: project setup adds them before any frame).
      const old = this.worker;
      this.worker = undefined;
      void old.terminate();
    }
    let worker: Worker;
    try {
      worker = this.worker ??= this.spawn();
    } catch (error) {
      this.handOverFailed(job, error);
      return;
    }
    this.handOver(worker, job).catch((error: unknown) => {
      if (this.running === job && this.worker === worker) this.handOverFailed(job, error);
    });
  }

  /**
   * Posts the frame's blocks to the worker, HANDOVER_BLOCKS a message with a turn of the event
   * loop between: transferring the ~430 reads of a 28 MB line in one postMessage held this
   * thread 0.3-1 ms on an idle machine, several ms on a busy one (the fairness bench).
   */
  private async handOver(worker: Worker, job: Pending): Promise<void> {
    // The splitter's pieces are unpooled, and their buffers hold nothing else still needed: their memory moves, no copy on this thread.
    const blocks = job.line.blocks.map((block) => new Uint8Array(block.buffer, block.byteOffset, block.length));
    for (let at = 0; at < blocks.length; ) {
      if (at > 0) {
        await new Promise((resolve) => setImmediate(resolve));
        // Stopped, or the worker died meanwhile: the job was rejected already.
        if (this.running !== job || this.worker !== worker) return;
      }
      let end = Math.min(at + HANDOVER_BLOCKS, blocks.length);
      // Blocks that share memory go in one message: a buffer is transferred once.
      while (end < blocks.length && blocks[end]?.buffer === blocks[end - 1]?.buffer) end++;
      const group = blocks.slice(at, end);
      const message: DecodeJob = { blocks: group, last: end === blocks.length };
      worker.postMessage(message, [...new Set(group.map((block) => block.buffer as ArrayBuffer))]);
      this.handedOver++;
      at = end;
    }
  }

  /**
   * No worker could start, or the frame could not be handed over: this frame gets its one
   * error reply, and the next frame starts afresh rather than waiting behind it for good.
   */
  private handOverFailed(job: Pending, error: unknown): void {
    this.running = undefined;
    const worker = this.worker;
    this.worker = undefined;
    void worker?.terminate();
    job.reject(error as Error);
    this.next();
  }

  private spawn(): Worker {
    this.workerVersion = this.options.registry.version;
    const worker = startWorker({ encryptionKey: this.options.encryptionKey, methods: this.options.registry.shapes() });
    worker.unref();
    worker.on('message', (result: DecodeResult) => {
      if (this.worker !== worker) return;
      const job = this.running;
      this.running = undefined;
      if (held) {
        held.results.push(() => job?.resolve(result));
        held.arrived();
      } else job?.resolve(result);
      this.next();
    });
    const died = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      const job = this.running;
      this.running = undefined;
      job?.reject(error);
      this.next();
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`the comodojo decode worker exited with code ${code}`)));
    return worker;
  }

  private fail(error: Error): void {
    const jobs = [...(this.running ? [this.running] : []), ...this.waiting.splice(0)];
    this.running = undefined;
    for (const job of jobs) job.reject(error);
  }
}

/** Results held back by {@link holdDecodes}, and what to tell when one arrives. */
let held: { results: (() => void)[]; arrived(): void } | undefined;

/**
 * Tests only (the `./internal` entry): from now on, decoded frames are held on this thread
 * until `release()`, so a test can see other requests answered while a large frame is in the
 * worker's hands, as events rather than timing. `arrived` resolves at the first held result.
 */
export function holdDecodes(): { arrived: Promise<void>; release(): void } {
  let arrived!: () => void;
  const first = new Promise<void>((resolve) => (arrived = resolve));
  const hold = { results: [] as (() => void)[], arrived };
  held = hold;
  return {
    arrived: first,
    release: () => {
      if (held === hold) held = undefined;
      for (const resolve of hold.results.splice(0)) resolve();
    },
  };
}

/**
 * The worker runs decodeWorker.js beside this file; from the TypeScript sources (tests, bench:
 * the `@patchbay/source` condition) it gets tsx's loader and that condition first, which a
 * worker does not inherit.
 */
function startWorker(workerData: { encryptionKey?: string | undefined; methods: MethodShape[] }): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './decodeWorker.ts' : './decodeWorker.js', import.meta.url);
  if (!fromSource) return new Worker(entry, { workerData });
  const boot = `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register(); await import(${JSON.stringify(entry.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { workerData, execArgv: ['--conditions=@patchbay/source'] });
}
