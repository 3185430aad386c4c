import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, watch, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { patchbayCommand, Signal, tempDir } from '@patchbay/testing';

/** Every record line of Jeedom launch mode (§10 item 44). */
export const LINE = /^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\]\[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] : /;

/** A log file as PHP's `>> log 2>&1` gives it, watched for new lines. */
export class DaemonLog {
  private readonly changed = new Signal();
  private readonly watcher;
  constructor(readonly path: string) {
    writeFileSync(path, '');
    this.watcher = watch(path, () => this.changed.notify());
  }
  text(): string {
    return existsSync(this.path) ? readFileSync(this.path, 'utf8') : '';
  }
  lines(): string[] {
    return this.text()
      .split('\n')
      .filter((l) => l.length > 0);
  }
  waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    return this.changed
      .waitUntil(() => this.lines().find((l) => pattern.test(l)), { what: `a log line matching ${pattern}`, timeoutMs })
      .catch((error: Error) => {
        // A daemon that died early says why in its log: show it rather than just the timeout.
        throw new Error(`${error.message}; the log so far:\n${this.text()}`);
      });
  }
  close(): void {
    this.watcher.close();
  }
}

/** The shell command line PHP's deamon_start would build (§2.1), each argument single-quoted. */
export function shellCommand(args: readonly string[]): string {
  const { command, args: base } = patchbayCommand();
  return [command, ...base, 'jeedom', ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
}

/** A daemon started directly (same as PHP's, with stdout+stderr appended to the log), to see its exit status. */
export interface Daemon {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

export function launchDaemon(args: readonly string[], logPath: string): Daemon {
  const { command, args: base } = patchbayCommand();
  // One inherited descriptor in append mode for both streams, as `>> log 2>&1` opens it.
  const fd = openSync(logPath, 'a');
  const child = spawn(command, [...base, 'jeedom', ...args], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return { child, exited };
}

/** True when something accepts connections on 127.0.0.1:port. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** A scratch directory with a pid path and a log. */
export function scratch(): { dir: string; pid: string; log: DaemonLog; remove(): void } {
  const dir = tempDir('jeedom-launch-');
  const log = new DaemonLog(join(dir.path, 'patchbay_daemon.log'));
  return {
    dir: dir.path,
    pid: join(dir.path, 'deamon.pid'),
    log,
    remove: () => {
      log.close();
      dir.remove();
    },
  };
}
