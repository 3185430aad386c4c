import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGateway, type Adapter, type AdapterDefinition, type Gateway, type HostContext } from '@patchbay/core';
import { captureLogger, FakeDriver, repoRoot, Signal, tempDir, type CapturedLogger } from '@patchbay/testing';
import tracimAdapter from '../src/index.js';

/** The Python SDK-like peer (test/peers/tracim/client.py), run with the system python3. */
export const PYTHON = '/usr/bin/python3';
export const PEER_SCRIPT = join(repoRoot, 'test/peers/tracim/client.py');

/** No __pycache__ left in the repository's peer directories. */
export const pythonEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };

/** One JSON line the Python peer printed. */
export interface PeerRecord {
  ev: string;
  msg?: { path: string; type: string; data?: unknown };
  raw?: string;
  bytes?: number;
  chunks?: number;
  key?: string;
  [k: string]: unknown;
}

/** A running Python peer, recording what it printed. */
export class PyPeer {
  readonly records: PeerRecord[] = [];
  readonly stderr: string[] = [];
  private readonly changed = new Signal();
  readonly exited: Promise<number | null>;

  constructor(
    readonly child: ChildProcessWithoutNullStreams,
    readonly path: string,
  ) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        this.records.push(JSON.parse(line) as PeerRecord);
      } catch {
        this.stderr.push(line);
      }
      this.changed.notify();
    });
    child.stderr.on('data', (d: Buffer) => this.stderr.push(d.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => {
      this.changed.notify();
      resolve(code);
    }));
  }

  /** Messages received, in order. */
  received(type?: string): { path: string; type: string; data?: unknown }[] {
    return this.records.filter((r) => r.ev === 'recv' && r.msg && (type === undefined || r.msg.type === type)).map((r) => r.msg as { path: string; type: string; data?: unknown });
  }

  /** Waits until `condition` returns something other than undefined (re-checked on each line). */
  waitUntil<T>(condition: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
    return this.changed.waitUntil(condition, { what: `${what} (peer ${this.path})`, timeoutMs });
  }

  /** Waits for the n-th received message of a type. */
  waitFor(type: string, count = 1, timeoutMs = 10_000): Promise<{ path: string; type: string; data?: unknown }> {
    return this.waitUntil(() => this.received(type)[count - 1], `${count} × ${type}`, timeoutMs);
  }

  /** Waits for a record matching `accept`. */
  waitRecord(accept: (r: PeerRecord) => boolean, what: string, timeoutMs = 10_000): Promise<PeerRecord> {
    return this.waitUntil(() => this.records.find(accept), what, timeoutMs);
  }

  /** Sends a stdin command and waits for the peer to confirm it. */
  async cmd(command: Record<string, unknown>): Promise<void> {
    const before = this.records.filter((r) => r.ev === 'done').length;
    this.child.stdin.write(JSON.stringify(command) + '\n');
    await this.waitUntil(() => (this.records.filter((r) => r.ev === 'done').length > before ? true : undefined), `command ${JSON.stringify(command)}`);
  }

  /** Sends an envelope (or raw text) to the master from this peer. */
  send(msg: Record<string, unknown> | string): Promise<void> {
    return this.cmd(typeof msg === 'string' ? { cmd: 'send', raw: msg } : { cmd: 'send', msg });
  }

  /** Signal the peer and wait for it to exit; a peer still running 10 s after a gentler signal is killed, and that is an error. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
    if (signal === 'SIGKILL') {
      await this.exited;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const stuck = await Promise.race([this.exited.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), 10_000)))]);
    clearTimeout(timer);
    if (!stuck) return;
    this.child.kill('SIGKILL');
    await this.exited;
    throw new Error(`peer ${this.path} did not exit within 10 s of ${signal}; its last records: ${JSON.stringify(this.records.slice(-5))}; stderr: ${this.stderr.join('').slice(-500)}`);
  }
}

/** Starts a Python peer listening on `path` (registers unless told not to). */
export async function startPyPeer(options: { master: string; path: string; args?: string[] }): Promise<PyPeer> {
  const child = spawn(PYTHON, [PEER_SCRIPT, '--master', options.master, '--socket', options.path, ...(options.args ?? [])], { stdio: ['pipe', 'pipe', 'pipe'], env: pythonEnv });
  const peer = new PyPeer(child, options.path);
  // Registered (unless told not to) and reading its commands: a signal from now on is handled.
  await peer.waitRecord((r) => r.ev === 'ready', 'the peer to be ready');
  return peer;
}

/** A gateway with a fake driver and one tracim host in master mode, plus handles on both. */
export interface MasterRig {
  gateway: Gateway;
  driver: FakeDriver;
  /**
   * Every line the gateway logged. Its `isLevelEnabled` says no to debug and trace (`levels: 'info'`),
   * so no debug line is written and `find(pattern)` sees the info-and-above lines only.
   */
  logger: CapturedLogger;
  dir: string;
  master: string;
  adapter(): Adapter & { listClients(): { path: string; pid: string }[] };
  close(): Promise<void>;
}

/** Starts a master rig in a fresh temp directory. */
export async function startMaster(
  options: Record<string, unknown> = {},
  extra: {
    /** Replace parts of the context the adapter gets (to make the core misbehave). */
    context?: Partial<HostContext>;
  } = {},
): Promise<MasterRig> {
  const dir = tempDir('pb-tracim-');
  const master = join(dir.path, 'master.sock');
  const driver = new FakeDriver();
  const logger = captureLogger({ levels: 'info' });
  let current: Adapter | undefined;
  const definition: AdapterDefinition = {
    ...tracimAdapter,
    create(config, ctx) {
      const context = extra.context ? new Proxy(ctx, { get: (target, key) => (extra.context as Record<PropertyKey, unknown>)[key] ?? Reflect.get(target, key) }) : ctx;
      current = tracimAdapter.create(config as never, context);
      return current;
    },
  };
  const gateway = createGateway({
    devices: [{ id: 'dev1', definition: driver.definition }],
    hosts: [{ id: 'tracim', definition, options: { socketPath: master, ...options } }],
    logger,
    commandTimeoutMs: 2000,
  });
  await gateway.start();
  await driver.waitRunning();
  return {
    gateway,
    driver,
    logger,
    dir: dir.path,
    master,
    adapter: () => current as Adapter & { listClients(): { path: string; pid: string }[] },
    close: async () => {
      await gateway.stop({ drainTimeoutMs: 200 });
      dir.remove();
    },
  };
}

/** A raw Unix listener recording each inbound connection's bytes (for wire-level checks). */
export async function rawListener(path: string): Promise<{ server: Server; messages: Buffer[]; changed: Signal; close(): Promise<void> }> {
  const messages: Buffer[] = [];
  const changed = new Signal();
  const server = createServer((socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      messages.push(Buffer.concat(chunks));
      socket.end();
      changed.notify();
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { server, messages, changed, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
