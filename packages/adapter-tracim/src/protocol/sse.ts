/** One Server-Sent Event. */
export interface SseEvent {
  /** `message` when the stream gave no `event:` line (SSE rules; Tracim's replays, §8.1). */
  event: string;
  data: string;
  id?: string;
}

/** Options of {@link SseParser}. */
export interface SseParserOptions {
  /** Longest event (its data plus the line being read), in UTF-8 bytes; 1 MiB by default. */
  maxEventBytes?: number;
  /** An event went over `maxEventBytes` (`bytes` so far): it is skipped, up to its blank line. */
  onOverflow?: (bytes: number) => void;
}

/**
 * Bytes, not characters: Tracim's TLMs are ASCII JSON (§8.2), but anything else behind the URL
 * may send 3-byte characters, and a cap in characters would then hold 3 MiB.
 */
const defaultMaxEventBytes = 1024 * 1024;

/**
 * An incremental SSE parser (WHATWG rules): feed it chunks as they arrive, whatever their
 * boundaries (T3), and it emits complete events. Comment lines are skipped.
 *
 * What it holds is bounded: an event over `maxEventBytes` is reported and skipped rather than
 * kept, so a server that never ends a line cannot grow it without limit. Skipping, not
 * reconnecting: a reconnect with `after_event_id` would be sent the same event again.
 */
export class SseParser {
  /** The start of the line being read (appended, never searched: V8 keeps it a cheap rope). */
  private pending = '';
  /** UTF-8 bytes of `pending`. */
  private pendingBytes = 0;
  /** The last chunk ended with a CR: a LF opening the next one is the rest of that line break. */
  private afterCr = false;
  private event = '';
  private data: string[] = [];
  /** UTF-8 bytes of the data lines so far, one newline each. */
  private dataBytes = 0;
  private id: string | undefined;
  private sawField = false;
  /** Inside an oversized event: its lines are dropped until the blank line that ends it. */
  private skipping = false;
  /** The start of the current line was thrown away, so its end is not a blank line. */
  private lineCut = false;
  private readonly maxEventBytes: number;

  constructor(
    private readonly onEvent: (event: SseEvent) => void,
    private readonly options: SseParserOptions = {},
  ) {
    this.maxEventBytes = options.maxEventBytes ?? defaultMaxEventBytes;
  }

  /** Feed the next chunk of the response body. */
  push(chunk: string): void {
    let start = 0;
    if (this.afterCr) {
      this.afterCr = false;
      if (chunk.startsWith('\n')) start = 1;
    }
    // Each search resumes where the last one stopped (-1: none left), so a chunk of many lines stays linear.
    let lf = chunk.indexOf('\n');
    let cr = chunk.indexOf('\r');
    while (start < chunk.length) {
      if (lf !== -1 && lf < start) lf = chunk.indexOf('\n', start);
      if (cr !== -1 && cr < start) cr = chunk.indexOf('\r', start);
      const end = cr !== -1 && (lf === -1 || cr < lf) ? cr : lf;
      if (end === -1) break;
      this.line(this.pending + chunk.slice(start, end));
      this.pending = '';
      this.pendingBytes = 0;
      if (end !== cr) start = end + 1;
      else if (end + 1 === chunk.length) {
        // Maybe the first half of a CRLF: a LF opening the next chunk belongs to this line.
        this.afterCr = true;
        start = end + 1;
      } else start = chunk[end + 1] === '\n' ? end + 2 : end + 1;
    }
    if (start >= chunk.length) return;
    // Only the new chunk is searched: a line arriving in many chunks is not rescanned each time.
    const rest = chunk.slice(start);
    this.pending += rest;
    this.pendingBytes += Buffer.byteLength(rest);
    if (this.pendingBytes + this.dataBytes > this.maxEventBytes) {
      if (!this.skipping) this.overflow(this.pendingBytes + this.dataBytes);
      this.pending = '';
      this.pendingBytes = 0;
      this.lineCut = true;
    }
  }

  private line(line: string): void {
    if (this.lineCut) {
      this.lineCut = false;
      return;
    }
    if (line.length === 0) {
      if (this.skipping) this.skipping = false;
      else this.dispatch();
      return;
    }
    if (this.skipping || line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    this.sawField = true;
    if (field === 'event') this.event = value;
    else if (field === 'data') {
      this.data.push(value);
      this.dataBytes += Buffer.byteLength(value) + 1;
      if (this.dataBytes > this.maxEventBytes) this.overflow(this.dataBytes);
    } else if (field === 'id') this.id = value;
  }

  private overflow(length: number): void {
    this.skipping = true;
    this.reset();
    this.options.onOverflow?.(length);
  }

  private dispatch(): void {
    if (this.sawField && (this.data.length > 0 || this.event !== '')) {
      this.onEvent({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
    }
    this.reset();
  }

  private reset(): void {
    this.event = '';
    this.data = [];
    this.dataBytes = 0;
    this.sawField = false;
  }
}
