import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { startPhpServer } from './phpServer.js';
import { repoRoot } from './process.js';
import { Signal } from '@patchbay/core/mock';

/** One request the callback script recorded. */
export interface CallbackRecord {
  /** When it arrived (epoch seconds, as PHP's microtime). */
  time: number;
  method: string;
  uri: string;
  /** The body as the real script decodes it (`json_decode(..., true)`), or null. */
  decoded: Record<string, Record<string, unknown>> | null;
}

/**
 * test/peers/jeedom/callback.php served by `php -S`: the stand-in for a Jeedom plugin's
 * callback. It records each request as one JSON line in its log; `changed` fires on every
 * write to that log, so tests await what it received instead of polling.
 */
export class JeedomCallback {
  readonly changed = new Signal();

  private readonly child: ChildProcess;
  private readonly watcher: FSWatcher;
  readonly logFile: string;
  readonly controlFile: string;

  private constructor(parts: { child: ChildProcess; watcher: FSWatcher; logFile: string; controlFile: string }) {
    this.child = parts.child;
    this.watcher = parts.watcher;
    this.logFile = parts.logFile;
    this.controlFile = parts.controlFile;
  }

  /** Starts it on 127.0.0.1:`port`, checking `apikey`, logging into `dir`. */
  static async start(options: { port: number; apikey: string; dir: string }): Promise<JeedomCallback> {
    const logFile = join(options.dir, `callback-${options.port}.log`);
    const controlFile = join(options.dir, `callback-${options.port}.control.json`);
    writeFileSync(logFile, '');
    const child = await startPhpServer({
      port: options.port,
      args: [join(repoRoot, 'test/peers/jeedom/callback.php')],
      env: { JEEDOM_PEER_LOG: logFile, JEEDOM_PEER_APIKEY: options.apikey, JEEDOM_PEER_CONTROL: controlFile },
    });
    const peer: JeedomCallback = new JeedomCallback({ child, watcher: watch(logFile, () => peer.changed.notify()), logFile, controlFile });
    return peer;
  }

  /** From now on, answer as told: `{ status: 500 }`, `{ delayMs: 60000 }` (accept and hold)... */
  control(behaviour: { status?: number; delayMs?: number; location?: string }): void {
    writeFileSync(this.controlFile, JSON.stringify(behaviour));
  }

  records(): CallbackRecord[] {
    if (!existsSync(this.logFile)) return [];
    return readFileSync(this.logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as CallbackRecord);
  }

  /** The decoded bodies of every POST so far. */
  bodies(): Record<string, Record<string, unknown>>[] {
    return this.records().flatMap((r) => (r.method === 'POST' && r.decoded ? [r.decoded] : []));
  }

  /** Every reply received, by command id, in arrival order (more than one is a duplicate). */
  replies(): Map<string, Record<string, unknown>[]> {
    const replies = new Map<string, Record<string, unknown>[]>();
    for (const body of this.bodies()) {
      for (const [id, reply] of Object.entries(body.replies ?? {})) replies.set(id, [...(replies.get(id) ?? []), reply as Record<string, unknown>]);
    }
    return replies;
  }

  /** Waits until some POST body satisfies `find`. */
  waitFor<T>(find: (body: Record<string, Record<string, unknown>>) => T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
    return this.changed.waitUntil(
      () => {
        for (const body of this.bodies()) {
          const found = find(body);
          if (found !== undefined) return found;
        }
        return undefined;
      },
      { what: `jeedom callback: ${what}`, timeoutMs },
    );
  }

  async stop(): Promise<void> {
    this.watcher.close();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    // SIGKILL: a request held by `delayMs` would keep php -S from stopping on SIGTERM.
    this.child.kill('SIGKILL');
    await exited;
  }
}
