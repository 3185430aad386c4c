import { createGateway, type DriverDefinition, type Gateway, type Logger } from '@patchbay/core';
import sim from '@patchbay/driver-sim';
import { FakeHost, tempDir } from '@patchbay/testing';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createComodojoDefinition, RpcError, sig, type ComodojoAdapter, type ComodojoDefinitionOptions, type MethodRegistry } from '../src/index.js';
import { decodeResponse, encodeFrame, type ResponseFrame } from '../src/internal.js';

/** The project methods the checklist's items use (§8 items 19-22). */
export function addTestMethods(methods: MethodRegistry): void {
  methods
    .add({ name: 'test.echo', description: 'Echo a message', signatures: [sig('string', ['message', 'string'])], handler: (args) => args['message'] })
    .add({ name: 'test.any', description: null, signatures: [sig('undefined', ['value', 'undefined'])], handler: (args) => args['value'] })
    .add({
      name: 'test.pick',
      description: 'Two signatures',
      signatures: [sig('array'), sig('int', ['name', 'string'])],
      handler: (args) => (args['name'] === undefined ? ['no-args'] : String(args['name']).length),
    })
    .add({ name: 'test.fail', description: 'Application error', signatures: [sig('int')], handler: () => { throw new RpcError(4242, 'custom failure'); } })
    .add({ name: 'test.crash', description: 'Unexpected exception', signatures: [sig('int')], handler: () => { throw new Error('secret stack detail'); } })
    .add({ name: 'test.pair', description: 'Named parameters', signatures: [sig('string', ['a', 'string'], ['b', 'int'])], handler: (args) => `${String(args['a'])}${String(args['b'])}` });
  for (const type of ['int', 'double', 'boolean', 'array', 'struct', 'string'] as const) {
    methods.add({ name: `test.${type}`, description: `Takes one ${type}`, signatures: [sig('boolean', ['value', type])], handler: () => true });
  }
}

/** Runs the PHP peer and returns its per-step results (fails the test on a peer error). */
export async function peer(socket: string, steps: Record<string, unknown>[]): Promise<PeerResult[]> {
  const run = await runPeer({ socket, steps });
  if (run.code !== 0) throw new Error(`php peer failed (${String(run.code)}): ${run.stderr}`);
  return (run.out as { results: PeerResult[] }).results;
}

/** One step's result as the PHP peer reports it. */
export interface PeerResult {
  keys?: string[];
  raw?: string;
  status?: boolean | null;
  message?: string | null;
  decoded?: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- decoded JSON-RPC responses of any shape
  result?: unknown;
  fault?: { faultCode: number; faultString: string; codeIsInt: boolean };
  xml_error?: string;
  exception?: string;
  encrypted?: boolean;
  frames?: { status: boolean; message: string | null }[];
  frame?: { status: boolean; message: string | null };
  none?: boolean;
  eof?: boolean;
  closed?: boolean;
}

/** A gateway with the sim driver as `thermo1`, a FakeHost `other`, and the comodojo adapter `rpc`. */
export interface Rig {
  gateway: Gateway;
  other: FakeHost;
  adapter: ComodojoAdapter;
  socket: string;
  stop(): Promise<void>;
}

/** A logger that records warn/error lines, for "one log line per bad input" checks. */
export function captureLogger(): Logger & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const at =
    (level: string) =>
    (a: unknown, b?: unknown): void => {
      if (level === 'warn' || level === 'error') lines.push({ level, message: typeof a === 'string' ? a : String(b) });
    };
  const logger = { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal'), isLevelEnabled: () => false, lines } as unknown as Logger & {
    lines: { level: string; message: string }[];
  };
  logger.child = () => logger;
  return logger;
}

export async function startRig(
  options: { adapterOptions?: Record<string, unknown>; definition?: ComodojoDefinitionOptions; commandTimeoutMs?: number; logger?: Logger; device?: DriverDefinition } = {},
): Promise<Rig> {
  let adapter: ComodojoAdapter | undefined;
  const base = createComodojoDefinition({ setup: addTestMethods, ...options.definition });
  const definition = {
    ...base,
    create: ((config, ctx) => {
      adapter = base.create(config, ctx) as ComodojoAdapter;
      return adapter;
    }) as typeof base.create,
  };
  const other = new FakeHost();
  const gateway = createGateway({
    devices: [{ id: 'thermo1', definition: options.device ?? sim, options: { interval: 3_600_000 } }],
    hosts: [
      { id: 'rpc', definition, options: { socket: 'tcp://127.0.0.1:0', ...options.adapterOptions } },
      { id: 'other', definition: other.definition },
    ],
    commandTimeoutMs: options.commandTimeoutMs ?? 2000,
    logger: options.logger,
  });
  await gateway.start();
  const started = adapter as ComodojoAdapter;
  return { gateway, other, adapter: started, socket: started.address() as string, stop: () => gateway.stop({ drainTimeoutMs: 200 }) };
}

/** Node client of the framing: connect, read the greeter, exchange lines. */
export class FrameClient {
  private buffer = '';
  private waiters: (() => void)[] = [];
  readonly lines: string[] = [];
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => {
      this.buffer += data;
      let lf = this.buffer.indexOf('\n');
      while (lf >= 0) {
        this.lines.push(this.buffer.slice(0, lf + 1));
        this.buffer = this.buffer.slice(lf + 1);
        lf = this.buffer.indexOf('\n');
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  static connect(uri: string): Promise<FrameClient> {
    return new Promise((resolve, reject) => {
      const socket = uri.startsWith('unix://') ? connect(uri.slice(7)) : connect(Number(uri.split(':').pop()), '127.0.0.1');
      socket.once('connect', () => resolve(new FrameClient(socket)));
      socket.once('error', reject);
    });
  }

  /** The next raw line (with its CR LF), or undefined if the connection closed first. */
  async nextLine(timeoutMs = 5000): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.lines.shift();
  }

  /** Resolves once the server closed the connection. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection not closed');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async response(timeoutMs?: number): Promise<ResponseFrame> {
    const line = await this.nextLine(timeoutMs);
    if (line === undefined) throw new Error('connection closed before a response');
    return decodeResponse(line.trim());
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends one request frame and reads its response. */
  async call(contentType: string | undefined, message: string): Promise<ResponseFrame> {
    this.write(requestLine(contentType, message));
    return this.response();
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A request frame as a wire line. */
export function requestLine(contentType: string | undefined, message: string): string {
  return encodeFrame(contentType === undefined ? { message } : { content_type: contentType, message });
}

/** Connects, checks the greeter, returns the client. */
export async function open(uri: string): Promise<FrameClient> {
  const client = await FrameClient.connect(uri);
  const greeter = await client.nextLine();
  if (greeter === undefined) throw new Error('no greeter');
  return client;
}

/** Path of the PHP peer. */
export const phpPeer = join(import.meta.dirname, '../../../test/peers/comodojo/client.php');

/** Runs the PHP peer with a JSON job on stdin, returns its JSON output. */
export function runPeer(job: Record<string, unknown>, timeoutMs = 15_000): Promise<{ code: number | null; out: unknown; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('php', [phpPeer, '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`php peer timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        resolve({ code, out: stdout.trim() === '' ? undefined : JSON.parse(stdout), stderr });
      } catch {
        reject(new Error(`php peer printed no JSON: ${stdout} ${stderr}`));
      }
    });
    child.stdin.end(JSON.stringify(job));
  });
}

export { tempDir };
