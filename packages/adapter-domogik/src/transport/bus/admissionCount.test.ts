import { describe, expect, it } from 'vitest';
import { AdmissionCount } from './admissionCount.js';

/** A count with a clock the test moves. */
function counted(maxConnections: number) {
  let now = 0;
  const count = new AdmissionCount({ maxConnections, handshakeTimeoutMs: 10_000, now: () => now });
  return { count, advance: (ms: number) => (now += ms) };
}

describe('domogik bus - admission count (13.7)', () => {
  it('admission - a burst of ZAP requests before any monitor event gets exactly the cap', () => {
    const { count } = counted(4);
    expect(Array.from({ length: 8 }, () => count.admit())).toEqual([true, true, true, true, false, false, false, false]);
    expect(count.admitted).toBe(4);
  });

  it('admission - an established connection keeps its place until it disconnects; refused ones never take one', () => {
    const { count } = counted(2);
    expect(count.admit()).toBe(true);
    expect(count.admit()).toBe(true);
    expect(count.admit()).toBe(false);
    // The refused connection's handshake:error:auth and disconnect arrive between the others' handshakes.
    count.handshakeSucceeded();
    count.handshakeFailed();
    count.disconnected();
    count.handshakeSucceeded();
    expect(count.admitted).toBe(2);
    expect(count.admit()).toBe(false);
    count.disconnected();
    expect(count.admitted).toBe(1);
    expect(count.admit()).toBe(true);
    expect(count.admit()).toBe(false);
  });

  it('admission - a connection that fails its handshake before ZAP frees nothing it did not take', () => {
    const { count } = counted(1);
    count.handshakeFailed();
    count.disconnected();
    expect(count.admitted).toBe(0);
    expect(count.admit()).toBe(true);
    count.handshakeSucceeded();
    count.handshakeFailed();
    count.disconnected();
    expect(count.admitted).toBe(1);
  });

  it('admission - an approval whose handshake never completes gives its place back at the handshake deadline', () => {
    const { count, advance } = counted(1);
    expect(count.admit()).toBe(true);
    // The peer closed while its ZAP request was answered: a failure like any other.
    count.handshakeFailed();
    count.disconnected();
    advance(9_999);
    expect(count.admit()).toBe(false);
    advance(1);
    expect(count.admitted).toBe(0);
    expect(count.admit()).toBe(true);
  });

  it('admission - a handshake after its approval expired (a stalled event loop) still counts, and its disconnect gives the place back', () => {
    const { count, advance } = counted(1);
    expect(count.admit()).toBe(true);
    advance(10_000);
    count.handshakeSucceeded();
    expect(count.admitted).toBe(1);
    expect(count.admit()).toBe(false);
    count.disconnected();
    expect(count.admitted).toBe(0);
  });
});
