import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { freePort, repoRoot, Signal, startPhpServer, tempDir } from '@patchbay/testing';

/** The PHP peer scripts (test/peers/jeedom). */
export const peerDir = join(repoRoot, 'test/peers/jeedom');
export const PHP = '/usr/bin/php';

/** One request as the PHP callback script recorded it. */
export interface CallbackRecord {
  time: number;
  method: string;
  uri: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
  decoded: unknown;
  answered: number;
}

/**
 * The PHP callback (`php -S 127.0.0.1:PORT callback.php`): records every request in a JSON
 * lines file, watched with fs.watch so tests wait for events rather than sleep.
 */
export class PhpCallback {
  readonly dir = tempDir('jeedom-peer-');
  readonly logFile = join(this.dir.path, 'requests.jsonl');
  readonly controlFile = join(this.dir.path, 'control.json');
  private child: ChildProcess | undefined;
  private watcher: FSWatcher | undefined;
  private readonly changed = new Signal();
  port = 0;

  private constructor(private readonly apikey: string) {}

  /** Start on a free port (or `port`, to come back on the same one). */
  static async start(options: { apikey?: string; port?: number } = {}): Promise<PhpCallback> {
    const peer = new PhpCallback(options.apikey ?? '');
    writeFileSync(peer.logFile, '');
    peer.watcher = watch(peer.logFile, () => peer.changed.notify());
    await peer.launch(options.port ?? (await freePort()));
    return peer;
  }

  /** The callback URL, shaped as Jeedom builds it (§2.2). */
  get url(): string {
    return `http://127.0.0.1:${this.port}/plugins/patchbay/core/php/jeePatchbay.php`;
  }

  private async launch(port: number): Promise<void> {
    this.port = port;
    this.child = await startPhpServer({
      port,
      args: [join(peerDir, 'callback.php')],
      env: { JEEDOM_PEER_LOG: this.logFile, JEEDOM_PEER_CONTROL: this.controlFile, JEEDOM_PEER_APIKEY: this.apikey },
    });
  }

  /** Every request so far. */
  records(): CallbackRecord[] {
    if (!existsSync(this.logFile)) return [];
    return readFileSync(this.logFile, 'utf8')
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as CallbackRecord);
  }

  /** POSTs answered 200, decoded. */
  posts(): CallbackRecord[] {
    return this.records().filter((r) => r.method === 'POST');
  }

  /** Wait until the records satisfy `condition` (re-checked on every write to the log). */
  waitFor<T>(condition: (records: CallbackRecord[]) => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
    return this.changed.waitUntil(() => condition(this.records()), { what, timeoutMs });
  }

  /** The latest value of device/channel among the POSTs answered 200. */
  latest(device: string, channel: string): unknown {
    let value: unknown;
    for (const record of this.posts()) {
      if (record.answered !== 200) continue;
      const devices = (record.decoded as { devices?: Record<string, Record<string, unknown>> } | null)?.devices;
      const entry = devices?.[device];
      if (entry && channel in entry) value = entry[channel];
    }
    return value;
  }

  /** Make the script misbehave (`{status: 500}`, `{delayMs: 2000}`), or behave again (`undefined`). */
  control(control: Record<string, unknown> | undefined): void {
    if (control === undefined) rmSync(this.controlFile, { force: true });
    else writeFileSync(this.controlFile, JSON.stringify(control));
  }

  /** Stop the server (the callback becomes unreachable). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }

  /** Start again on the same port. */
  async restart(): Promise<void> {
    await this.launch(this.port);
  }

  async close(): Promise<void> {
    await this.stop();
    this.watcher?.close();
    this.dir.remove();
  }
}

/** Run `php core.php <args>` and parse its one JSON line. */
export function phpCore(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    // Jeedom's PHP runs under a web server that leads its own session, and deamon_info() takes a
    // session id of 0 for "not running". Where this test runs inside a PID namespace whose session
    // leader lives outside it (CI containers), getsid() is 0 for every process it starts, so the
    // peer gets a session of its own (setsid, `detached`), as under Apache.
    const child = spawn(PHP, [join(peerDir, 'core.php'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('exit', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as Record<string, unknown>);
      } catch {
        reject(new Error(`php core.php ${args[0]} exited ${code}: ${out} ${err}`));
      }
    });
  });
}

/** Send raw bytes on one connection, the way a client would; resolves with what came back once closed. */
export function sendRaw(port: number, data: string | Buffer, options: { end?: boolean } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      if (data.length > 0) socket.write(data);
      if (options.end !== false) socket.end();
    });
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(received)));
  });
}
