/**
 * A real broker for the tests: Debian's mosquitto (package `mosquitto`) on a free port, with
 * its config, persistence and log in a temporary directory. It can be stopped and started
 * again on the same port with what it persisted (retained messages, sessions, queued messages).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { tempDir } from './process.js';
import { Signal } from '@patchbay/core/mock';

/** PEM files for a TLS listener and its clients, all signed by one throw-away CA. */
export interface TlsFiles {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A throw-away CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
export function makeTlsFiles(dir: string): TlsFiles {
  const path = (name: string) => join(dir, name);
  const ssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=patchbay-test-ca', '-keyout', path('ca.key'), '-out', path('ca.pem')]);
  for (const [name, cn] of [['server', '127.0.0.1'], ['client', 'patchbay-client']] as const) {
    ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', path(`${name}.key`), '-out', path(`${name}.csr`)]);
    writeFileSync(path(`${name}.ext`), name === 'server' ? 'subjectAltName=IP:127.0.0.1\n' : 'extendedKeyUsage=clientAuth\n');
    ssl(['x509', '-req', '-in', path(`${name}.csr`), '-CA', path('ca.pem'), '-CAkey', path('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', path(`${name}.ext`), '-out', path(`${name}.pem`)]);
  }
  return { ca: path('ca.pem'), serverCert: path('server.pem'), serverKey: path('server.key'), clientCert: path('client.pem'), clientKey: path('client.key') };
}

/** A mosquitto process of its own, for tests of the MQTT host and the cluster. */
export class Mosquitto {
  private child: ChildProcess | undefined;
  private log = '';
  private readonly changed = new Signal();

  private constructor(
    readonly port: number,
    private readonly dir: { path: string; remove: () => void },
    private readonly tls = false,
  ) {}

  /** Starts one on a free port; with `tls`, the listener is TLS only and asks for a client certificate signed by `tls.ca`. */
  static async start(options: { tls?: TlsFiles } = {}): Promise<Mosquitto> {
    const dir = tempDir('patchbay-mosquitto-');
    const broker = new Mosquitto(await freePort(), dir, options.tls !== undefined);
    const tls = options.tls ? [`cafile ${options.tls.ca}`, `certfile ${options.tls.serverCert}`, `keyfile ${options.tls.serverKey}`, 'require_certificate true', 'tls_version tlsv1.2'] : [];
    writeFileSync(
      join(dir.path, 'mosquitto.conf'),
      [`listener ${broker.port} 127.0.0.1`, ...tls, 'allow_anonymous true', 'persistence true',
        // Run as root, mosquitto drops to the `mosquitto` user and can no longer write its
        // persistence here (nor read the TLS files): it runs as the test's own user instead.
        `user ${userInfo().username}`, `persistence_location ${dir.path}/`, 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type notice', 'log_type information', 'max_queued_messages 100000', 'set_tcp_nodelay true', ''].join('\n'),
    );
    await broker.up();
    return broker;
  }

  get url(): string {
    return `${this.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${this.port}`;
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
