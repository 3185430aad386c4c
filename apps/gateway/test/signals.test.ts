import { spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes } from '@patchbay/core';
import { captureLogger, tempDir } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { removePidFile, writePidFile } from '../src/run/pidFile.js';
import { handleSignals } from '../src/run/signals.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** A signal source, a clock and a stop that the test finishes by hand. */
function rig(options: { interactive?: boolean; graceMs?: number } = {}) {
  const source = new EventEmitter();
  const log = captureLogger();
  let clock = 1_000;
  let stops = 0;
  let finishStop: () => void = () => undefined;
  const exits: number[] = [];
  const remove = handleSignals({
    stop: () => {
      stops++;
      return new Promise<void>((resolve) => (finishStop = resolve));
    },
    logger: log.logger as never,
    exit: (code) => exits.push(code),
    source,
    now: () => clock,
    ...options,
  });
  cleanups.push(remove);
  return {
    log,
    exits,
    stops: () => stops,
    signal: (name: NodeJS.Signals, afterMs = 0) => {
      clock += afterMs;
      source.emit(name, name);
    },
    finishStop: () => finishStop(),
  };
}

describe('signals', () => {
  it('signals - a second SIGTERM within the grace period (GNU timeout, a process-group kill) does not skip the drain', async () => {
    const r = rig();
    r.signal('SIGTERM');
    r.signal('SIGTERM', 3);
    expect(r.exits).toEqual([]);
    expect(r.stops()).toBe(1);
    expect(r.log.find(/SIGTERM again 3 ms after SIGTERM: ignored, still stopping/)).toHaveLength(1);
    r.finishStop();
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.exits).toEqual([0]);
  });

  it('signals - a second signal after the grace period forces exit 1', () => {
    const r = rig({ graceMs: 2000 });
    r.signal('SIGTERM');
    r.signal('SIGINT', 2500);
    expect(r.exits).toEqual([1]);
    expect(r.log.find(/SIGINT again: exiting without finishing the drain/, 'warn')).toHaveLength(1);
  });

  it('signals - SIGINT twice from a terminal forces the exit at once; from no terminal it waits for the grace period', () => {
    const terminal = rig({ interactive: true });
    terminal.signal('SIGINT');
    terminal.signal('SIGINT', 1);
    expect(terminal.exits).toEqual([1]);
    const daemon = rig({ interactive: false });
    daemon.signal('SIGINT');
    daemon.signal('SIGINT', 1);
    expect(daemon.exits).toEqual([]);
  });

  it('signals - SIGHUP is logged and ignored', () => {
    const r = rig();
    r.signal('SIGHUP');
    expect(r.stops()).toBe(0);
    expect(r.log.find(/^SIGHUP received: ignored/)).toHaveLength(1);
  });
});

describe('pid file', () => {
  it('pid file - written atomically as "<pid>\\n", removed only while it is ours', () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const path = join(dir.path, 'p.pid');
    writePidFile(path);
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
    expect(readdirSync(dir.path)).toEqual(['p.pid']); // no temp file left behind
    writeFileSync(path, '12345678\n');
    removePidFile(path);
    expect(existsSync(path)).toBe(true); // another process's: kept
    writeFileSync(path, `${process.pid}\n`);
    removePidFile(path);
    expect(existsSync(path)).toBe(false);
  });

  it('pid file - refused while a live process holds it; a dead one is replaced; an unwritable path is a coded error', async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const path = join(dir.path, 'p.pid');
    const live = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    cleanups.push(() => live.kill('SIGKILL'));
    await once(live, 'spawn');
    writeFileSync(path, `${live.pid}\n`);
    expect(() => writePidFile(path)).toThrow(expect.objectContaining({ code: ErrorCodes.START_FAILED, message: expect.stringMatching(new RegExp(`names process ${live.pid}, which is running`)) }));
    expect(readFileSync(path, 'utf8')).toBe(`${live.pid}\n`);
    live.kill('SIGKILL');
    await once(live, 'exit');
    writePidFile(path);
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
    expect(() => writePidFile(join(dir.path, 'missing', 'p.pid'))).toThrow(expect.objectContaining({ code: ErrorCodes.START_FAILED, message: expect.stringMatching(/cannot write the pid file/) }));
  });
});
