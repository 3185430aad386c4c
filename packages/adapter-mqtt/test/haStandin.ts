/**
 * Runs test/peers/homeassistant/ha_standin.py (Debian's python3-paho-mqtt, hence /usr/bin/python3)
 * and collects its JSON events.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot, Signal } from '@patchbay/testing';

export type StandinEvent = Record<string, unknown> & { event: string; t: number };

export class HaStandin {
  readonly events: StandinEvent[] = [];
  private readonly changed = new Signal();
  private stderr = '';
  private exited = false;
  private nextId = 0;

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      this.events.push(JSON.parse(line) as StandinEvent);
      this.changed.notify();
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    child.once('exit', () => {
      this.exited = true;
      this.changed.notify();
    });
  }

  static async start(port: number, prefix = 'homeassistant'): Promise<HaStandin> {
    const child = spawn('/usr/bin/python3', [join(repoRoot, 'test/peers/homeassistant/ha_standin.py'), '127.0.0.1', String(port), prefix], { stdio: ['pipe', 'pipe', 'pipe'] });
    const standin = new HaStandin(child);
    await standin.waitFor((e) => e.event === 'connected', { what: 'the stand-in to connect' });
    return standin;
  }

  /** The first event matching at or after index `from` of the events seen. */
  waitFor(predicate: (e: StandinEvent) => boolean, { what, timeoutMs = 15_000, from = 0 }: { what: string; timeoutMs?: number; from?: number }): Promise<StandinEvent> {
    return this.changed.waitUntil(
      () => {
        const found = this.events.slice(from).find(predicate);
        if (found) return found;
        if (this.exited) throw new Error(`the Home Assistant stand-in exited before ${what}: ${this.stderr.slice(-2000)}`);
        return undefined;
      },
      { what, timeoutMs },
    );
  }

  send(request: Record<string, unknown>): void {
    this.child.stdin?.write(JSON.stringify(request) + '\n');
  }

  /** Sends a command on the entity's command_topic with a response topic; resolves with the reply. */
  async command(uniqueId: string, payload: string): Promise<Record<string, unknown>> {
    const id = `c${++this.nextId}`;
    const from = this.events.length;
    this.send({ cmd: 'command', id, unique_id: uniqueId, payload });
    const reply = await this.waitFor((e) => e.event === 'reply' && e.id === id, { what: `the reply to ${id}`, from });
    return reply.reply as Record<string, unknown>;
  }

  /** Publishes raw bytes (hex) on a topic with a response topic; resolves with the reply. */
  async publishRaw(topic: string, hex: string): Promise<Record<string, unknown>> {
    const id = `p${++this.nextId}`;
    const from = this.events.length;
    this.send({ cmd: 'publish', id, topic, payload: hex, hex: true, response: true });
    const reply = await this.waitFor((e) => e.event === 'reply' && e.id === id, { what: `the reply to ${id}`, from });
    return reply.reply as Record<string, unknown>;
  }

  /** The latest state event of an entity, if any. */
  latestState(uniqueId: string): unknown {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i] as StandinEvent;
      if (e.event === 'state' && e.unique_id === uniqueId) return e.state;
    }
    return undefined;
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.send({ cmd: 'quit' });
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
