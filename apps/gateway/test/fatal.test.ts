import { captureLogger } from '@patchbay/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { exitOnFatal } from '../src/run/signals.js';

const removers: (() => void)[] = [];
afterEach(() => {
  for (const remove of removers.splice(0)) remove();
});

describe('fatal errors', () => {
  it('fatal - an uncaught exception or unhandled rejection is logged as fatal, with its cause, and exits 1', () => {
    const log = captureLogger();
    const exits: number[] = [];
    removers.push(exitOnFatal(log, (code) => exits.push(code)));
    // What Node itself emits for a throw nothing caught and a rejection nobody handled.
    const emit = process.emit.bind(process) as (event: string, ...args: unknown[]) => boolean;
    emit('uncaughtException', new Error('socket hang up'), 'uncaughtException');
    emit('unhandledRejection', new RangeError('Maximum call stack size exceeded'), Promise.resolve());
    expect(exits).toEqual([1, 1]);
    expect(log.find(/^uncaught exception: socket hang up; exiting/, 'fatal')).toHaveLength(1);
    expect(log.find(/^unhandled promise rejection: .*Maximum call stack size exceeded; exiting/, 'fatal')).toHaveLength(1);
    expect(log.lines[0]?.fields.err).toBeInstanceOf(Error);
  });
});
