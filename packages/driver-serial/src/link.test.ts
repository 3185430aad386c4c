import { ErrorCodes, isPatchbayError, PatchbayError, silentLogger } from '@patchbay/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Link } from './link.js';
import type { Connection, ConnectionHandlers, Transport } from './transport.js';

/** An in-memory transport: each open makes a connection whose fullness the test controls. */
function memoryTransport() {
  const state = {
    opens: 0,
    failNext: 0,
    accepting: true,
    written: [] as string[],
    handlers: undefined as ConnectionHandlers | undefined,
  };
  const transport: Transport = (handlers) => {
    state.opens++;
    if (state.failNext > 0) {
      state.failNext--;
      return Promise.reject(new PatchbayError(ErrorCodes.DEVICE_UNAVAILABLE, 'cannot open serial port /dev/x: ENOENT'));
    }
    state.handlers = handlers;
    const connection: Connection = {
      write: (bytes) => {
        state.written.push(bytes.toString());
        return state.accepting;
      },
      close: () => Promise.resolve(),
    };
    return Promise.resolve(connection);
  };
  return { transport, state };
}

function link(transport: Transport, events: string[], maxQueuedWrites = 3) {
  return new Link({
    transport,
    backoff: { delays: [100, 1000], jitter: 0 },
    maxQueuedWrites,
    label: '/dev/x',
    logger: silentLogger,
    handlers: {
      up: ({ reconnect }) => events.push(reconnect ? 'up again' : 'up'),
      data: () => undefined,
      down: (reason) => events.push(`down: ${reason}`),
    },
  });
}

describe('link', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('link - holds frames while the stream is full and writes them in order on drain', async () => {
    const { transport, state } = memoryTransport();
    const l = link(transport, []);
    await l.start();
    state.accepting = false;
    l.write(Buffer.from('1')); // accepted by the stream, which now says it is full
    l.write(Buffer.from('2'));
    l.write(Buffer.from('3'));
    expect(state.written).toEqual(['1']);
    expect(l.queued).toBe(2);
    state.accepting = true;
    state.handlers?.drain();
    expect(state.written).toEqual(['1', '2', '3']);
    expect(l.queued).toBe(0);
    await l.stop();
  });

  it('link - a full queue refuses further frames with DEVICE_UNAVAILABLE instead of growing', async () => {
    const { transport, state } = memoryTransport();
    const l = link(transport, [], 2);
    await l.start();
    state.accepting = false;
    l.write(Buffer.from('a'));
    l.write(Buffer.from('b'));
    l.write(Buffer.from('c'));
    let refused: unknown;
    try {
      l.write(Buffer.from('d'));
    } catch (error) {
      refused = error;
    }
    expect(isPatchbayError(refused, ErrorCodes.DEVICE_UNAVAILABLE)).toBe(true);
    expect((refused as Error).message).toContain('not keeping up');
    await l.stop();
  });

  it('link - reopens with back-off after failures and after a loss, resetting the back-off once open', async () => {
    vi.useFakeTimers();
    const { transport, state } = memoryTransport();
    const events: string[] = [];
    const l = link(transport, events);
    state.failNext = 2;
    await l.start();
    expect(events).toEqual(['down: cannot open serial port /dev/x: ENOENT']);
    expect(l.isOpen).toBe(false);
    await vi.advanceTimersByTimeAsync(99);
    expect(state.opens).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(state.opens).toBe(2); // first retry after 100 ms, fails again
    await vi.advanceTimersByTimeAsync(1000);
    expect(state.opens).toBe(3);
    expect(l.isOpen).toBe(true);
    expect(events.at(-1)).toBe('up');

    state.handlers?.closed('lost: bad file descriptor');
    expect(l.isOpen).toBe(false);
    expect(events.at(-1)).toBe('down: serial port /dev/x lost: bad file descriptor');
    expect(() => l.write(Buffer.from('x'))).toThrow(/is not open/);
    await vi.advanceTimersByTimeAsync(100); // back-off was reset by the successful open
    expect(events.at(-1)).toBe('up again');
    await l.stop();
  });

  it('link - stop cancels a pending reopen, and start works again after stop', async () => {
    vi.useFakeTimers();
    const { transport, state } = memoryTransport();
    const l = link(transport, []);
    state.failNext = 1;
    await l.start();
    await l.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(state.opens).toBe(1);
    await l.start();
    expect(l.isOpen).toBe(true);
    await l.stop();
    expect(l.isOpen).toBe(false);
    expect(l.downReason).toBe('stopped');
  });
});
