import http from 'node:http';
import https from 'node:https';
import { describeError, ErrorCodes, PatchbayError, type Counter, type Logger } from '@patchbay/core';

/** Settings of the upward HTTP client. */
export interface CallbackClientOptions {
  /** The `--callback` URL exactly as given. */
  callback: string;
  apikey: string;
  logger: Logger;
  /** §4.4: 0.5 s connect timeout per attempt. */
  connectTimeoutMs?: number;
  /** §4.4: 120 s response timeout per attempt. */
  responseTimeoutMs?: number;
  /** §4.2: the start-up test waits generously (≥ 30 s) rather than forever. */
  testTimeoutMs?: number;
  /** §4.4: 0.5 s after each failed attempt. */
  retryDelayMs?: number;
  /** §4.4: 3 attempts per payload. */
  attempts?: number;
  /** Counts every failed attempt. */
  failures?: Counter;
  /** Aborts waits between attempts (the adapter's stop). */
  signal?: AbortSignal;
}

interface Outcome {
  status: number;
  statusText: string;
  location: string | undefined;
}

/**
 * The daemon's side of the upward channel (protocols/jeedom.md §4): an HTTP client of the
 * plugin's callback script over one keep-alive connection (the reference opens one per
 * request; `fetch` is several times slower than node:http here).
 */
export class CallbackClient {
  private readonly url: URL;
  /** Everything of a request but its method and headers, computed once. */
  private readonly base: http.RequestOptions;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  private readonly connectTimeoutMs: number;
  private readonly responseTimeoutMs: number;
  private readonly testTimeoutMs: number;
  private readonly retryDelayMs: number;
  private readonly attempts: number;
  /** The callback URL for logs and errors (it reaches /healthz too). */
  readonly target: string;
  private closed = false;

  constructor(private readonly options: CallbackClientOptions) {
    this.url = new URL(withApikey(options.callback, options.apikey));
    const secure = this.url.protocol === 'https:';
    this.transport = secure ? https : http;
    // §4.1: certificates are not verified (self-signed, or issued for another name).
    this.agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.connectTimeoutMs = options.connectTimeoutMs ?? 500;
    this.responseTimeoutMs = options.responseTimeoutMs ?? 120_000;
    this.testTimeoutMs = options.testTimeoutMs ?? 30_000;
    this.retryDelayMs = options.retryDelayMs ?? 500;
    this.attempts = options.attempts ?? 3;
    this.target = loggableUrl(options.callback);
    const url = this.url;
    this.base = {
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? undefined : Number(url.port),
      path: url.pathname + url.search,
      auth: url.username ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` : undefined,
      agent: this.agent,
    };
  }

  /**
   * The start-up test (§4.2): one `GET <callback>?apikey=<key>`, no body. Throws
   * `HOST_UNREACHABLE` unless the answer is 200, after logging the reference's ERROR line.
   */
  async test(): Promise<void> {
    let outcome: Outcome;
    try {
      outcome = await this.request('GET', undefined, { timeoutMs: this.testTimeoutMs });
    } catch (error) {
      this.options.failures?.inc();
      const message = `Callback result as a unknown error: ${describeError(error)}. Please check your network configuration page`;
      this.options.logger.error({ callback: this.target }, message);
      throw new PatchbayError(ErrorCodes.HOST_UNREACHABLE, message, { context: { callback: this.target }, cause: error });
    }
    if (outcome.status !== 200) {
      this.options.failures?.inc();
      const message = `Callback error: ${outcome.status} ${outcome.statusText}. Please check your network configuration page`;
      this.options.logger.error({ callback: this.target, status: outcome.status }, message);
      throw new PatchbayError(ErrorCodes.HOST_UNREACHABLE, message, { context: { callback: this.target, status: outcome.status } });
    }
  }

  /**
   * POST one JSON body (§4.3, §4.4): success only on 200, whatever the body; up to 3
   * attempts with 0.5 s after each failure; then `HOST_UNREACHABLE` so the outbox keeps it.
   */
  async post(body: string): Promise<void> {
    const { logger } = this.options;
    if (logger.isLevelEnabled('debug')) logger.debug(`Send to jeedom: ${body}`);
    let last = '';
    for (let attempt = 0; attempt < this.attempts; attempt++) {
      // Stopped meanwhile: no more attempts, the outbox keeps the payload's events.
      if (this.closed) break;
      try {
        const outcome = await this.request('POST', body, { timeoutMs: this.responseTimeoutMs });
        if (outcome.status === 200) return;
        last = `return code ${outcome.status}`;
        if (outcome.status === 301 || outcome.status === 302 || outcome.status === 303) {
          // §4.4 deviation: following this would turn the POST into a body-less GET and
          // silently lose the data (Apache's HTTP→HTTPS redirect); fix the callback URL.
          // That redirect keeps our ?apikey=… (§8.4): log where it points, not its query.
          const location = outcome.location === undefined ? undefined : loggableUrl(outcome.location, this.url);
          logger.error(
            { status: outcome.status, location },
            `Error on send request to jeedom: the callback redirected the POST (${outcome.status} to ${location ?? '?'}); the data would be lost, not counted as sent. Fix the callback URL`,
          );
        } else {
          logger.warn({ status: outcome.status }, `Error on send request to jeedom, return code ${outcome.status}`);
        }
      } catch (error) {
        last = describeError(error);
        logger.error(`Error on send request to jeedom "${last}" retry: ${attempt}/${this.attempts}`);
      }
      this.options.failures?.inc();
      await this.pause(this.retryDelayMs);
    }
    throw new PatchbayError(ErrorCodes.HOST_UNREACHABLE, `callback ${this.target} failed ${this.attempts} attempts (last: ${last})`, {
      context: { callback: this.target, attempts: this.attempts },
    });
  }

  /** Close the kept-alive connection. */
  close(): void {
    this.closed = true;
    this.agent.destroy();
  }

  private pause(ms: number): Promise<void> {
    const signal = this.options.signal;
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private request(method: 'GET' | 'POST', body: string | undefined, { timeoutMs, retried = false }: { timeoutMs: number; retried?: boolean }): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { 'User-Agent': 'patchbay-jeedom', Accept: '*/*', Connection: 'keep-alive' };
      let payload: Buffer | undefined;
      if (body !== undefined) {
        payload = Buffer.from(body, 'utf8');
        // §4.3: an exact Content-Length (never chunked) and a JSON content type.
        headers['Content-Length'] = payload.length;
        headers['Content-Type'] = 'application/json';
      }
      const request = this.transport.request({ ...this.base, method, headers });
      let settled = false;
      const overall = setTimeout(() => request.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      const finish = (error: Error | undefined, outcome?: Outcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(overall);
        if (error) {
          // A kept-alive connection the server closed meanwhile: retry once at once, as the
          // request never reached the script (node's documented keep-alive race).
          if (!retried && request.reusedSocket && (error as NodeJS.ErrnoException).code === 'ECONNRESET') {
            this.request(method, body, { timeoutMs, retried: true }).then(resolve, reject);
            return;
          }
          reject(error);
        } else resolve(outcome as Outcome);
      };
      request.on('socket', (socket) => {
        if (!socket.connecting) return;
        // §4.4: 0.5 s to connect, separately from the 120 s to answer.
        const timer = setTimeout(() => request.destroy(new Error(`connect timeout after ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs);
        socket.once('connect', () => clearTimeout(timer));
        socket.once('close', () => clearTimeout(timer));
      });
      request.on('response', (response) => {
        const outcome: Outcome = { status: response.statusCode ?? 0, statusText: response.statusMessage ?? '', location: response.headers.location };
        // The body is ignored (§4.4), but read so the connection can be reused.
        response.resume();
        response.on('end', () => finish(undefined, outcome));
        response.on('error', (error) => finish(error));
        response.on('aborted', () => finish(new Error('response aborted')));
      });
      request.on('error', (error) => finish(error));
      request.end(payload);
    });
  }
}

/**
 * The request URL (§4.1): the callback, then `?apikey=` and the key by plain concatenation
 * (no URL encoding). A callback that already has a query gets `&apikey=`; one that already
 * carries an `apikey` parameter is used as it is, not given a second one (issue 13.11).
 */
export function withApikey(callback: string, apikey: string): string {
  const hash = callback.indexOf('#');
  const base = hash < 0 ? callback : callback.slice(0, hash);
  const query = base.indexOf('?');
  if (query < 0) return `${base}?apikey=${apikey}`;
  if (new URLSearchParams(base.slice(query + 1)).has('apikey')) return base;
  return `${base}${base.endsWith('?') || base.endsWith('&') ? '' : '&'}apikey=${apikey}`;
}

/**
 * `raw` (resolved against `base`) without user info, query or fragment: where a password or
 * an apikey would be. Unparseable: cut at the first `?` or `#`, and user info dropped.
 */
export function loggableUrl(raw: string, base?: URL): string {
  try {
    const url = new URL(raw, base);
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    return url.href;
  } catch {
    return raw.replace(/[?#][\s\S]*$/, '').replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/]*@/i, '$1');
  }
}
