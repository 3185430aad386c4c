import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './process.js';

/**
 * A pseudo-terminal pair made by socat (raw, no echo), with link paths `a` and `b`. Ready once
 * socat's own log says it carries data (`-d -d`), never after a guessed sleep.
 */
export class PtyPair {
  readonly a: string;
  readonly b: string;
  private child: ChildProcess | undefined;
  private readonly dir: ReturnType<typeof tempDir>;

  private constructor(prefix: string) {
    this.dir = tempDir(prefix);
    this.a = join(this.dir.path, 'a');
    this.b = join(this.dir.path, 'b');
  }

  /** `prefix` names the temporary directory the links live in. */
  static async open(prefix = 'patchbay-pty-'): Promise<PtyPair> {
    const pair = new PtyPair(prefix);
    await pair.start();
    return pair;
  }

  start(timeoutMs = 10_000): Promise<void> {
    rmSync(this.a, { force: true });
    rmSync(this.b, { force: true });
    const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${this.a}`, `pty,raw,echo=0,link=${this.b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    return new Promise<void>((resolve, reject) => {
      let log = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`socat did not set up the pty pair within ${timeoutMs} ms:\n${log}`));
      }, timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`socat exited with ${code} before the pair was ready:\n${log}`));
      });
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (text: string) => {
        log += text;
        if ((log.match(/N PTY is /g) ?? []).length >= 2 && log.includes('starting data transfer loop')) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          child.stderr?.removeAllListeners('data');
          child.stderr?.resume();
          resolve();
        }
      });
    });
  }

  async close(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    }
    this.dir.remove();
  }
}
