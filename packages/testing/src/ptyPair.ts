import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './process.js';

/**
 * A real pseudo-terminal pair made by socat (raw, no echo), with stable link paths `a` and `b` that survive
 * `kill()` + `start()` (the same links, new ptys: a cable pulled and plugged back in).
 * Readiness is read from socat's own log (`-d -d` prints "starting data transfer loop" once
 * both ptys and their links exist), never guessed with a sleep.
 */
export class PtyPair {
  readonly a: string;
  readonly b: string;
  private child: ChildProcess | undefined;
  private readonly dir: { path: string; remove: () => void };

  private constructor(prefix: string) {
    this.dir = tempDir(prefix);
    this.a = join(this.dir.path, 'a');
    this.b = join(this.dir.path, 'b');
  }

  /** Makes a pair and waits until both links exist; `prefix` names the directory the links live in. */
  static async open(prefix = 'patchbay-pty-'): Promise<PtyPair> {
    const pair = new PtyPair(prefix);
    await pair.start();
    return pair;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts socat on the pair's link paths; resolves once it is carrying data. */
  start(timeoutMs = 30_000): Promise<void> {
    if (this.child) return Promise.resolve();
    // A socat that died hard leaves dangling links; socat will not replace them.
    rmSync(this.a, { force: true });
    rmSync(this.b, { force: true });
    const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${this.a}`, `pty,raw,echo=0,link=${this.b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    return new Promise<void>((resolve, reject) => {
      let log = '';
      let ptys = 0;
      const timer = setTimeout(() => fail(new Error(`socat did not set up the pty pair within ${timeoutMs} ms:\n${log}`)), timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        child.stderr?.removeAllListeners('data');
        if (this.child === child) this.child = undefined;
        child.kill('SIGKILL');
        reject(error);
      };
      child.once('error', fail);
      child.once('exit', (code) => {
        if (this.child === child) this.child = undefined;
        fail(new Error(`socat exited with ${code} before the pair was ready:\n${log}`));
      });
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (text: string) => {
        log += text;
        ptys = (log.match(/N PTY is /g) ?? []).length;
        if (ptys >= 2 && log.includes('starting data transfer loop')) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          child.stderr?.removeAllListeners('data');
          child.stderr?.resume();
          child.once('exit', () => {
            if (this.child === child) this.child = undefined;
          });
          resolve();
        }
      });
    });
  }

  /** Stops socat (SIGTERM: it removes its links, as a device vanishing from /dev does) and waits for it to exit. */
  kill(): Promise<void> {
    const child = this.child;
    if (!child) return Promise.resolve();
    this.child = undefined;
    return new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }

  /** Kills socat and removes the directory. */
  async close(): Promise<void> {
    await this.kill();
    this.dir.remove();
  }
}
