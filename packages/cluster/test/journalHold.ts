/**
 * Holds a gateway process's journal writes at the system call: strace's delay injection on the
 * journal's current segment file stops the process as it enters write(2) on that file, with
 * nothing written, until the hold is released (strace detaches and the write goes on) or the
 * process is killed (the write never happens). A real process and a real file: the test decides
 * when the disk answers, without a hook in the code under test. Needs strace (.ci/run installs
 * it) and the right to trace a sibling process: root, as CI runs, or kernel.yama.ptrace_scope 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { join } from 'node:path';

/** write(2) and pwrite64(2), whose first three arguments are fd, buffer, count (Node's writeSync uses one of them). */
const WRITES: Record<string, number[]> = { x64: [1, 18], arm64: [64, 68] };
/** Far longer than any test: the hold ends with release() or the process's death. */
const HOLD = '1000s';
const POLL_MS = 5;

/** The journal's current segment in `dir`: the highest-numbered one. */
export function currentSegment(dir: string): string {
  const segments = readdirSync(dir)
    .filter((name) => /^segment-\d{8}\.v2\.log$/.test(name))
    .sort();
  const last = segments.at(-1);
  if (last === undefined) throw new Error(`no journal segment in ${dir}`);
  return join(dir, last);
}

export class JournalHold {
  private readonly pid: number;
  /** The segment file whose writes are held. */
  readonly segment: string;
  private readonly strace: ChildProcess;
  private readonly exited: Promise<unknown>;

  private constructor(parts: { pid: number; segment: string; strace: ChildProcess; exited: Promise<unknown> }) {
    this.pid = parts.pid;
    this.segment = parts.segment;
    this.strace = parts.strace;
    this.exited = parts.exited;
  }

  /** Attaches to `pid` (its main thread, where the journal writes) and holds its writes to the current segment of `dir`. */
  static async start(pid: number, dir: string): Promise<JournalHold> {
    const segment = currentSegment(dir);
    const calls = 'write,pwrite64';
    const strace = spawn('strace', ['-p', String(pid), '-o', '/dev/null', '-P', segment, '-e', `trace=${calls}`, '-e', `inject=${calls}:delay_enter=${HOLD}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const exited = new Promise((resolve) => {
      strace.once('exit', resolve);
      // Not installed: the wait below says so.
      strace.once('error', (error) => {
        stderr += `${error.message} (install strace)`;
        resolve(undefined);
      });
    });
    await new Promise<void>((resolve, reject) => {
      strace.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        if (/Process \d+ attached/.test(stderr)) resolve();
      });
      void exited.then(() => reject(new Error(`strace exited before attaching to ${pid}: ${stderr}`)));
    });
    return new JournalHold({ pid, segment, strace, exited });
  }

  /**
   * Resolves with the bytes the process is trying to write to the segment, once it is stopped
   * in that write. Polled: a ptrace stop sends no event to anyone but the tracer.
   */
  async held(timeoutMs = 15_000): Promise<Buffer> {
    const writes = WRITES[process.arch];
    if (writes === undefined) throw new Error(`JournalHold knows no write(2) numbers for ${process.arch}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const fields = readFileSync(`/proc/${this.pid}/syscall`, 'utf8').trim().split(' ');
      const [nr, fd, buffer, count] = fields;
      if (writes.includes(Number(nr)) && this.isSegment(Number(fd))) return this.read(BigInt(buffer as string), Number(count));
      if (Date.now() > deadline) throw new Error(`process ${this.pid} did not write to ${this.segment} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  /** Lets the held write (and every later one) go on: strace detaches. */
  async release(): Promise<void> {
    if (this.strace.exitCode === null && this.strace.signalCode === null) this.strace.kill('SIGTERM');
    await this.exited;
  }

  private isSegment(fd: number): boolean {
    try {
      return readlinkSync(`/proc/${this.pid}/fd/${fd}`) === this.segment;
    } catch {
      return false;
    }
  }

  private read(address: bigint, count: number): Buffer {
    const mem = openSync(`/proc/${this.pid}/mem`, 'r');
    try {
      const bytes = Buffer.alloc(count);
      readSync(mem, bytes, 0, count, address);
      return bytes;
    } finally {
      closeSync(mem);
    }
  }
}
