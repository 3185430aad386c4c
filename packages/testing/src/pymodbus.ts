import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from './process.js';

/** The tables of the peer's datastore. */
export type PeerTable = 'co' | 'di' | 'hr' | 'ir';

/** Where in the slave's datastore: the unit, its table and the first address. */
export interface PeerAddress {
  unit: number;
  table: PeerTable;
  address: number;
}

/** How the slave is reached. */
export type SlaveMode = { rtu: string; baudRate?: number } | { tcp: number } | { rtuOverTcp: number };

/**
 * Drives test/peers/modbus/slave.py: a Modbus slave on Debian's python3-pymodbus (always
 * /usr/bin/python3, whose modules those are), whose datastore the test reads and sets over
 * stdin/stdout JSON lines.
 */
export class PymodbusSlave {
  private readonly pending = new Map<number, (reply: Record<string, unknown>) => void>();
  private seq = 0;
  private exited: Promise<void>;
  stderr = '';

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    /** The TCP port (TCP modes). */
    readonly port: number | undefined,
    lines: AsyncIterator<string>,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void (async () => {
      for (;;) {
        const next = await lines.next();
        if (next.done) return;
        const reply = JSON.parse(next.value) as Record<string, unknown>;
        const id = reply.id as number;
        this.pending.get(id)?.(reply);
        this.pending.delete(id);
      }
    })();
  }

  /** Starts the slave with `units` and waits until it serves. */
  static async start(mode: SlaveMode, units: number[], timeoutMs = 15_000): Promise<PymodbusSlave> {
    const args = [join(repoRoot, 'test/peers/modbus/slave.py'), '--units', units.join(',')];
    if ('rtu' in mode) args.push('--rtu', mode.rtu, '--baud', String(mode.baudRate ?? 9600));
    else if ('tcp' in mode) args.push('--tcp', String(mode.tcp));
    else args.push('--rtu-over-tcp', String(mode.rtuOverTcp));
    const child = spawn('/usr/bin/python3', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => (stderr = (stderr + text).slice(-4000)));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`pymodbus slave not ready within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
      child.once('exit', (code) => reject(new Error(`pymodbus slave exited with ${code}: ${stderr}`)));
      void lines.next().then((first) => {
        clearTimeout(timer);
        if (first.done) reject(new Error(`pymodbus slave closed its output: ${stderr}`));
        else resolve(JSON.parse(first.value) as Record<string, unknown>);
      });
    });
    child.removeAllListeners('exit');
    const slave = new PymodbusSlave(child, typeof ready.port === 'number' ? ready.port : undefined, lines);
    child.stderr.on('data', (text: string) => (slave.stderr = (slave.stderr + text).slice(-4000)));
    return slave;
  }

  private call(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (reply) => (reply.ok ? resolve(reply) : reject(new Error(`pymodbus slave: ${JSON.stringify(reply)}`))));
      this.child.stdin.write(`${JSON.stringify({ ...request, id })}\n`);
    });
  }

  /** Sets values in the datastore from `at` on (registers as numbers, bits as booleans). */
  async set(at: PeerAddress, values: (number | boolean)[]): Promise<void> {
    await this.call({ op: 'set', ...at, values });
  }

  /** Reads `count` values of the datastore from `at` on. */
  async get(at: PeerAddress, count = 1): Promise<(number | boolean)[]> {
    return (await this.call({ op: 'get', ...at, count })).values as (number | boolean)[];
  }

  /** Kills the slave (SIGKILL: a crash, not a goodbye) and waits for it to be gone. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}
