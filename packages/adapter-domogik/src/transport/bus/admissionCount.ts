/**
 * How many connections one embedded-bus listener holds against its cap (issue 13.7).
 *
 * A connection takes its place when the ZAP handler approves it, not when it is accepted: a
 * burst of connections accepted together would otherwise all count before the first ZAP
 * request is answered, and every one of them be refused. Connections still handshaking are not
 * counted; libzmq closes them at the handshake deadline (ZMQ_HANDSHAKE_IVL).
 *
 * The socket's monitor events tell no connection from another (they carry the listener's
 * address, and ZAP requests the peer's IP only), so the count follows from their numbers: each
 * TCP connection ends its handshake with one `handshake` or one `handshake:error:*`, then has one
 * `disconnect`. An approval waits for its `handshake`; one whose connection died in between
 * (the peer closed while its ZAP request was answered) cannot be told from a connection that
 * failed before ZAP, so it gives its place back at the handshake deadline, when libzmq would
 * have closed it anyway.
 */
export class AdmissionCount {
  /** Connections whose handshake succeeded and that have not disconnected. */
  private established = 0;
  /** When each approval not yet followed by its `handshake` was given (ms), oldest first. */
  private readonly approvals: number[] = [];
  /** Handshakes that failed and whose `disconnect` has not come yet. */
  private failedBeforeDisconnect = 0;

  constructor(
    private readonly options: {
      maxConnections: number;
      /** How long an approval holds a place without its `handshake` (the listener's handshake deadline). */
      handshakeTimeoutMs: number;
      /** Monotonic ms; a test's clock. */
      now?: () => number;
    },
  ) {}

  /** Connections holding a place: established, and approved ones finishing their handshake. */
  get admitted(): number {
    this.expire();
    return this.established + this.approvals.length;
  }

  /** The ZAP handler's decision for one new connection: true, with its place taken, while under the cap. */
  admit(): boolean {
    if (this.admitted >= this.options.maxConnections) return false;
    this.approvals.push(this.now());
    return true;
  }

  /** Monitor `handshake`: the oldest approval is now an established connection. */
  handshakeSucceeded(): void {
    // None left when it expired under a stalled event loop: the connection counts all the same.
    this.approvals.shift();
    this.established++;
  }

  /** Monitor `handshake:error:*`: the connection ends before it was established; its `disconnect` follows. */
  handshakeFailed(): void {
    this.failedBeforeDisconnect++;
  }

  /** Monitor `disconnect`: a failed handshake's, or else an established connection's, which gives its place back. */
  disconnected(): void {
    if (this.failedBeforeDisconnect > 0) this.failedBeforeDisconnect--;
    else if (this.established > 0) this.established--;
  }

  private expire(): void {
    const oldest = this.now() - this.options.handshakeTimeoutMs;
    while (this.approvals.length > 0 && (this.approvals[0] as number) <= oldest) this.approvals.shift();
  }

  private now(): number {
    return this.options.now ? this.options.now() : performance.now();
  }
}
