import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort, repoRoot, Signal, startPhpServer, tempDir } from '@patchbay/testing';

export const PHP = '/usr/bin/php';
export const pluginSource = join(repoRoot, 'integrations/jeedom');
export const standInSource = join(repoRoot, 'test/peers/jeedom-core');

/** A cmd row as the stand-in stores it. */
export interface CmdRow {
  id: number;
  name: string;
  logicalId: string;
  generic_type: string;
  eqLogic_id: number;
  type: string;
  subType: string;
  unite: string;
  isHistorized: number;
  value: string | number;
  configuration: Record<string, unknown>;
  display: Record<string, unknown>;
  cache: Record<string, unknown>;
}

/** An eqLogic row as the stand-in stores it. */
export interface EqLogicRow {
  id: number;
  name: string;
  logicalId: string;
  eqType_name: string;
  isEnable: number;
  configuration: Record<string, unknown>;
  status: Record<string, unknown>;
}

export interface Db {
  config: Record<string, Record<string, unknown>>;
  eqLogic: Record<string, EqLogicRow>;
  cmd: Record<string, CmdRow>;
  cache: Record<string, { value: unknown }>;
  events: { cmd_id: number; value: unknown; date: string }[];
}

/** What one PHP run printed: its JSON result, or the error it threw. */
export interface PhpRun {
  result: unknown;
  error?: string;
  stdout: string;
  stderr: string;
  code: number | null;
}

/** The shell launcher the plugin starts when it is pointed at the gateway's sources (tsx, no build). */
export function sourceLauncher(dir: string): string {
  const path = join(dir, 'patchbay-from-source');
  const loader = pathToFileURL(join(repoRoot, 'node_modules/tsx/dist/loader.mjs')).href;
  writeFileSync(path, `#!/bin/sh\nexec '${process.execPath}' --conditions=@patchbay/source --import '${loader}' '${join(repoRoot, 'apps/gateway/src/cli.ts')}' "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

/**
 * A Jeedom box in a temp dir: the stand-in core (test/peers/jeedom-core) at <root>/core, this
 * plugin copied to <root>/plugins/patchbay (copied, not linked: Jeedom's relative requires go
 * through __DIR__, which resolves links), and `php -S` serving <root> as Apache would, so the
 * callback is reached at /plugins/patchbay/core/php/jeePatchbay.php.
 */
export class JeedomBox {
  readonly dir = tempDir('jeedom-box-');
  readonly root = this.dir.path;
  readonly plugin = join(this.root, 'plugins/patchbay');
  port = 0;
  private server: ChildProcess | undefined;
  private readonly logChanged = new Signal();
  private readonly watchers: FSWatcher[] = [];

  static async start(options: { config?: Record<string, unknown> } = {}): Promise<JeedomBox> {
    const box = new JeedomBox();
    cpSync(join(standInSource, 'core'), join(box.root, 'core'), { recursive: true });
    cpSync(pluginSource, box.plugin, { recursive: true, filter: (src) => !/\/(resources\/patchbay|resources\/dist|data)(\/|$)/.test(src) });
    mkdirSync(join(box.root, 'log'), { recursive: true });
    box.port = await freePort();
    // The core's settings a test relies on: the internal address (the callback URL), a debug log level for the plugin.
    box.writeDb({
      config: {
        core: { internalPort: String(box.port), 'log::level::patchbay': { '100': '1' } },
        patchbay: { socketport: String(await freePort()), cycle: '0', drainTimeoutMs: '2000', replyWaitMs: '5000', ...options.config },
      },
    });
    // Other processes (php -S, the daemon's posts) write the state: watch it rather than poll.
    for (const dir of ['data', 'log']) box.watchers.push(watch(join(box.root, dir), () => box.logChanged.notify()));
    await box.serve();
    return box;
  }

  private writeDb(db: Partial<Db>): void {
    mkdirSync(join(this.root, 'data'), { recursive: true });
    writeFileSync(join(this.root, 'data/standin.json'), JSON.stringify({ eqLogic: {}, cmd: {}, cache: {}, message: [], events: [], nextId: 1, ...db }));
  }

  private async serve(): Promise<void> {
    this.server = await startPhpServer({ port: this.port, args: ['-t', this.root], onOutput: (text) => (this.serverOutput += text) });
  }

  /** What php -S printed (PHP warnings and fatal errors of the callback land here). */
  serverOutput = '';

  get callbackUrl(): string {
    return `http://127.0.0.1:${this.port}/plugins/patchbay/core/php/jeePatchbay.php`;
  }

  db(): Db {
    return JSON.parse(readFileSync(join(this.root, 'data/standin.json'), 'utf8')) as Db;
  }

  apikey(): string {
    return String(this.db().config.patchbay?.api ?? '');
  }

  eqLogic(device: string): EqLogicRow | undefined {
    return Object.values(this.db().eqLogic).find((e) => e.logicalId === device && e.eqType_name === 'patchbay');
  }

  cmds(device: string): CmdRow[] {
    const eq = this.eqLogic(device);
    if (!eq) return [];
    return Object.values(this.db().cmd).filter((c) => c.eqLogic_id === eq.id);
  }

  cmd(device: string, logicalId: string): CmdRow | undefined {
    return this.cmds(device).find((c) => c.logicalId === logicalId);
  }

  log(name = 'patchbay'): string {
    const path = join(this.root, 'log', name);
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  }

  /** Waits until `condition` holds, re-checked whenever the stand-in's database or a log changes (fs.watch), or a PHP run or request ends. */
  waitFor<T>(condition: () => T | undefined | false | null, what: string, timeoutMs = 20_000): Promise<T> {
    return this.logChanged.waitUntil(() => condition() || undefined, { what, timeoutMs }) as Promise<T>;
  }

  /**
   * Runs PHP as Jeedom would run the plugin's code (the core loaded, the plugin's class
   * autoloaded), in a session of its own as under Apache (posix_getsid: see
   * packages/adapter-jeedom/README.md). `body` is a function body; its return value is printed as JSON.
   */
  php(body: string, options: { timeoutMs?: number } = {}): Promise<PhpRun> {
    const script = `<?php
require_once ${JSON.stringify(join(this.root, 'core/php/core.inc.php'))};
require_once ${JSON.stringify(join(this.plugin, 'core/class/patchbay.class.php'))};
try {
  $result = (function () { ${body} })();
  echo "\\n@@RESULT@@" . json_encode(array('result' => $result), JSON_PRESERVE_ZERO_FRACTION);
} catch (Exception $e) {
  echo "\\n@@RESULT@@" . json_encode(array('error' => $e->getMessage()));
}
`;
    const file = join(this.root, `run-${process.hrtime.bigint()}.php`);
    writeFileSync(file, script);
    return new Promise((resolve, reject) => {
      const child = spawn(PHP, ['-d', 'display_errors=stderr', file], { cwd: this.root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        this.logChanged.notify();
        const at = stdout.lastIndexOf('@@RESULT@@');
        if (at < 0) return reject(new Error(`php exited ${code} without a result:\n${stdout}\n${stderr}`));
        const parsed = JSON.parse(stdout.slice(at + '@@RESULT@@'.length)) as { result?: unknown; error?: string };
        resolve({ result: parsed.result, error: parsed.error, stdout: stdout.slice(0, at), stderr, code });
      });
    });
  }

  /** A request to the callback as the daemon makes it; `apikey: null` leaves the key out. */
  request(options: { method?: string; body?: string | object; apikey?: string | null }): Promise<{ status: number; text: string }> {
    const apikey = options.apikey === undefined ? this.apikey() : options.apikey;
    const path = '/plugins/patchbay/core/php/jeePatchbay.php' + (apikey === null ? '' : `?apikey=${encodeURIComponent(apikey)}`);
    const payload = options.body === undefined ? '' : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: this.port, path, method: options.method ?? 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            this.logChanged.notify();
            resolve({ status: res.statusCode ?? 0, text });
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  async close(): Promise<void> {
    // A daemon a test left running goes with the box (by the pid it wrote, never by name).
    const pidFile = join(this.root, 'tmp/patchbay/deamon.pid');
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const watcher of this.watchers) watcher.close();
    const server = this.server;
    if (server && server.exitCode === null) {
      const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
      server.kill('SIGTERM');
      await exited;
    }
    this.dir.remove();
  }
}
