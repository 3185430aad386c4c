/**
 * A real broker for the tests: Debian's mosquitto (package `mosquitto`) on a free port, with
 * its config, persistence and log in a temporary directory. It can be stopped and started
 * again on the same port with what it persisted (retained messages, sessions, queued messages).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { tempDir } from './process.js';
import { Signal } from './signal.js';

/** A mosquitto process of its own, for tests of the MQTT host and the cluster. */
export class Mosquitto {
  private child: ChildProcess | undefined;
  private log = '';
  private readonly changed = new Signal();

  private constructor(
    readonly port: number,
    private readonly dir: { path: string; remove: () => void },
  ) {}

  /** Starts one on a free port. */
  static async start(): Promise<Mosquitto> {
    const dir = tempDir('patchbay-mosquitto-');
    const broker = new Mosquitto(await freePort(), dir);
    writeFileSync(
      join(dir.path, 'mosquitto.conf'),
      [`listener ${broker.port} 127.0.0.1`, 'allow_anonymous true', 'persistence true',
        // Run as root, mosquitto drops to the `mosquitto` user and can no longer write its
        // persistence here: sessions and queued messages would not survive a restart.
        `user ${userInfo().username}`, `persistence_location ${dir.path}/`, 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type notice', 'log_type information', 'max_queued_messages 100000', 'set_tcp_nodelay true', ''].join('\n'),
    );
    await broker.up();
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Everything it logged so far. */
  get output(): string {
    return this.log;
  }

  /** Starts it (again), resolving once it listens. */
  async up(): Promise<void> {
    if (this.child) return;
    const child = spawn('/usr/sbin/mosquitto', ['-c', join(this.dir.path, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let exited = false;
    const collect = (chunk: Buffer) => {
      this.log += chunk.toString('utf8');
      this.changed.notify();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('exit', () => {
      exited = true;
      this.changed.notify();
    });
    const from = this.log.length;
    await this.changed.waitUntil(
      () => {
        if (/ running/.test(this.log.slice(from))) return true;
        if (exited) throw new Error(`mosquitto exited at start: ${this.log.slice(from)}`);
        return undefined;
      },
      { timeoutMs: 15_000, what: 'mosquitto to run' },
    );
  }

  /** Stops it (SIGTERM: it saves its persistence first), resolving once it exited. */
  async down(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }

  async close(): Promise<void> {
    await this.down();
    this.dir.remove();
  }
}
