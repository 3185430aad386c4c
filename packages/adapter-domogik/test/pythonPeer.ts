import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { repoRoot, Signal } from '@patchbay/testing';

/** One JSON line the Python peer printed. */
export interface PeerEvent {
  event: string;
  id?: string;
  category?: string;
  action?: string;
  data?: Record<string, unknown> | null;
  frames?: unknown;
  [key: string]: unknown;
}

/** Ports of the bus the peer talks to. */
export interface PeerPorts {
  reqRepPort: number;
  pubPort: number;
  subPort: number;
}

let nextId = 0;

/**
 * Drives test/peers/domogik/peer.py (Debian's python3-zmq, always /usr/bin/python3): Domogik's
 * xplgw/admin as MDP client and worker, a subscriber and a publisher.
 */
export class PythonPeer {
  readonly events: PeerEvent[] = [];
  readonly stderr: string[] = [];
  private readonly changed = new Signal();
  private readonly child: ChildProcessWithoutNullStreams;
  private exited = false;

  constructor(ports: PeerPorts) {
    const script = join(repoRoot, 'test/peers/domogik/peer.py');
    this.child = spawn('/usr/bin/python3', ['-u', script, '--req-rep', String(ports.reqRepPort), '--pub', String(ports.pubPort), '--sub', String(ports.subPort)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as PeerEvent);
      } catch {
        this.stderr.push(`non-JSON stdout: ${line}`);
      }
      this.changed.notify();
    });
    createInterface({ input: this.child.stderr }).on('line', (line) => this.stderr.push(line));
    this.child.on('exit', () => {
      this.exited = true;
      this.changed.notify();
    });
  }

  /** Send one command line. */
  send(command: Record<string, unknown>): void {
    this.child.stdin.write(JSON.stringify(command) + '\n');
  }

  /** Wait for an event matching `predicate` (already seen or future). */
  waitFor(predicate: (e: PeerEvent) => boolean, options: { timeoutMs?: number; what: string }): Promise<PeerEvent> {
    return this.changed.waitUntil(
      () => {
        const found = this.events.find(predicate);
        if (found) return found;
        if (this.exited) throw new Error(`python peer exited while waiting for ${options.what}; stderr: ${this.stderr.join('\n')}`);
        return undefined;
      },
      { timeoutMs: options.timeoutMs ?? 10_000, what: options.what },
    );
  }

  /** Send an MDP request on a fresh REQ socket; resolves with the `reply` or `timeout` event. */
  async request(request: { service: string; action: string; data?: unknown; timeout?: number; timeoutFrame?: string | null }): Promise<PeerEvent> {
    const id = `r${++nextId}`;
    this.send({ op: 'request', id, ...request });
    return this.waitFor((e) => e.id === id && (e.event === 'reply' || e.event === 'timeout'), {
      timeoutMs: ((request.timeout ?? 10) + 5) * 1000,
      what: `the reply to ${request.action} (${id})`,
    });
  }

  /** Send raw frames on a fresh REQ socket; resolves with the reply or timeout event. */
  async raw(frames: unknown[], timeout = 3): Promise<PeerEvent> {
    const id = `r${++nextId}`;
    this.send({ op: 'raw', id, frames, timeout });
    return this.waitFor((e) => e.id === id && (e.event === 'reply' || e.event === 'timeout'), { timeoutMs: (timeout + 5) * 1000, what: `raw request ${id}` });
  }

  /** Send raw frames on a DEALER; resolves with everything received in `timeout` seconds. */
  async dealer(frames: unknown[], timeout = 1): Promise<PeerEvent> {
    const id = `d${++nextId}`;
    this.send({ op: 'dealer', id, frames, timeout });
    return this.waitFor((e) => e.id === id && e.event === 'dealer-done', { timeoutMs: (timeout + 5) * 1000, what: `dealer ${id}` });
  }

  /** Subscribe to categories (empty: everything); resolves once the socket is set up. */
  async subscribe(categories: string[]): Promise<void> {
    this.send({ op: 'subscribe', categories });
    await this.waitFor((e) => e.event === 'subscribed', { what: 'the subscription' });
  }

  /** Publications received in a category, in order. */
  publications(category: string): PeerEvent[] {
    return this.events.filter((e) => e.event === 'pub' && e.category === category);
  }

  /** Wait for a publication matching `predicate`. */
  waitForPub(category: string, predicate: (data: Record<string, unknown>) => boolean, options: { timeoutMs?: number; what?: string } = {}): Promise<PeerEvent> {
    return this.waitFor((e) => e.event === 'pub' && e.category === category && predicate((e.data ?? {}) as Record<string, unknown>), {
      timeoutMs: options.timeoutMs,
      what: options.what ?? `a ${category} publication`,
    });
  }

  /** Start a worker answering like Domogik's admin (config.get, device.get). */
  worker(options: { service: string; config?: Record<string, unknown>; devices?: unknown[]; delay?: number }): void {
    this.send({ op: 'worker', ...options });
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.send({ op: 'exit' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}
