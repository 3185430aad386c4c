import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { embeddedDefaultEnv } from './ports.js';
import { Signal } from '@patchbay/core/mock';

/** The repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * How to run the real `patchbay` binary from source in a child process: node with the
 * source export condition and tsx, so tests need no build. Append the CLI's arguments.
 */
export function patchbayCommand(): { command: string; args: string[] } {
  return {
    command: process.execPath,
    // tsx as a file URL, resolved from here: the child may run in any directory (a user's site).
    args: ['--conditions=@patchbay/source', '--import', import.meta.resolve('tsx'), join(repoRoot, 'apps/gateway/src/cli.ts')],
  };
}

/** A fresh temporary directory and a function that removes it. */
export function tempDir(prefix = 'patchbay-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** One JSON log line of the gateway (non-JSON lines come as `{ msg: line }`). */
export type LogLine = Record<string, unknown> & { msg?: string };

/** A `patchbay` child process with its log lines. */
export interface PatchbayProcess {
  child: ChildProcess;
  /** Every stdout line so far, parsed. */
  lines: LogLine[];
  /** Everything on stderr so far. */
  stderr(): string;
  /** The HTTP base URL from the start-up line (after `waitStarted`). */
  url: string | undefined;
  /** Resolves with the first log line matching, waiting for it if need be. */
  waitForLog(predicate: (line: LogLine) => boolean, options?: { timeoutMs?: number; what?: string }): Promise<LogLine>;
  /** Resolves once the gateway logged that it started. */
  waitStarted(timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  /** SIGTERM and wait for exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<number | string>;
}

/** Spawns `patchbay <args>` from source and collects its JSON log lines. */
export function spawnPatchbay(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): PatchbayProcess {
  const { command, args: base } = patchbayCommand();
  const child = spawn(command, [...base, ...args], { cwd: options.cwd ?? repoRoot, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: LogLine[] = [];
  const changed = new Signal();
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    changed.notify();
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    let parsed: LogLine;
    try {
      parsed = JSON.parse(line) as LogLine;
    } catch {
      parsed = { msg: line };
    }
    lines.push(parsed);
    changed.notify();
  });
  let exitCode: number | string | undefined;
  const exited = new Promise<number | string>((resolveExit) => {
    child.on('exit', (code, signal) => {
      exitCode = code ?? signal ?? -1;
      changed.notify();
      resolveExit(exitCode);
    });
  });
  const proc: PatchbayProcess = {
    child,
    lines,
    stderr: () => stderr,
    url: undefined,
    exited,
    waitForLog(predicate, opts = {}) {
      return changed.waitUntil(
        () => {
          const found = lines.find(predicate);
          if (found) return found;
          if (exitCode !== undefined) throw new Error(`patchbay exited (${exitCode}) before logging ${opts.what ?? 'the expected line'}; stderr: ${stderr.slice(-2000)}`);
          return undefined;
        },
        { timeoutMs: opts.timeoutMs ?? 45_000, what: opts.what ?? 'a matching log line' },
      );
    },
    async waitStarted(timeoutMs = 45_000) {
      const line = await proc.waitForLog((l) => typeof l.msg === 'string' && / started$/.test(l.msg) && 'http' in l, { timeoutMs, what: 'the start-up line' });
      proc.url = typeof line.http === 'string' && line.http.startsWith('http') ? line.http : undefined;
    },
    async stop(graceMs = 10_000) {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  return proc;
}

/**
 * `patchbay run` on the embedded default (what `npm start` runs) in a fresh data directory,
 * on free ports (`args` add flags such as `--serial-sim`); its `stop()` also removes the directory.
 */
export async function spawnEmbeddedDefault(args: string[] = []): Promise<PatchbayProcess> {
  const dir = tempDir();
  const proc = spawnPatchbay(['run', '--port', '0', '--data-dir', dir.path, ...args], { env: await embeddedDefaultEnv() });
  const stop = proc.stop.bind(proc);
  proc.stop = async (graceMs) => {
    try {
      return await stop(graceMs);
    } finally {
      dir.remove();
    }
  };
  return proc;
}
