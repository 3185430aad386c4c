import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from '@patchbay/testing';

/** A command of test/peers/teleinfo/generator.py (see its docstring). */
export interface FramesCommand {
  count?: number;
  set?: Record<string, string>;
  corrupt?: 'checksum' | 'cut' | 'eot';
  label?: string;
  as_read?: '8N1' | '1200' | '9600';
}

/**
 * Drives the Teleinfo frame generator (Python, /usr/bin/python3 with Debian's python3-serial),
 * written from Enedis' specifications independently of the driver's decoder.
 */
export class TeleinfoGenerator {
  private seq = 0;
  private readonly pending = new Map<number, () => void>();
  stderr = '';

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => (this.stderr = (this.stderr + text).slice(-4000)));
  }

  static async start(path: string, mode: 'historic' | 'standard'): Promise<TeleinfoGenerator> {
    const child = spawn('/usr/bin/python3', [join(repoRoot, 'test/peers/teleinfo/generator.py'), '--port', path, '--mode', mode], { stdio: ['pipe', 'pipe', 'pipe'] });
    const generator = new TeleinfoGenerator(child);
    const lines = createInterface({ input: child.stdout });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`teleinfo generator not ready: ${generator.stderr}`)), 15_000);
      child.once('exit', (code) => reject(new Error(`teleinfo generator exited with ${code}: ${generator.stderr}`)));
      lines.once('line', () => {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve();
      });
    });
    lines.on('line', (line) => {
      const reply = JSON.parse(line) as { id: number };
      generator.pending.get(reply.id)?.();
      generator.pending.delete(reply.id);
    });
    return generator;
  }

  /** Writes frames; resolves once they are on the line (paced at the real baud rate). */
  frames(command: FramesCommand = {}): Promise<void> {
    const id = ++this.seq;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.child.stdin.write(`${JSON.stringify({ ...command, id, op: 'frames' })}\n`);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    await exited;
  }
}
