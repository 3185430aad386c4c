import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Backoff, describeError, type Logger } from '@patchbay/core';
import type { z } from 'zod';
import type { tracimAccountConfig } from '../config.js';
import { SseParser, type SseEvent } from '../protocol/sse.js';

/** Pushpin sends a keep-alive every 30 s (§8.1): two missed in a row and the stream is dead. */
const defaultIdleTimeoutMs = 75_000;

/** What the stream reports to the master. */
export interface TracimStreamHooks {
  logger: Logger;
  signal: AbortSignal;
  /** The account's `user_id` from the login response (§5.2). */
  onUserId(userId: string): void;
  /** One TLM, as the raw text Tracim sent (forwarded verbatim, §6.4). */
  onMessage(text: string): void;
  /** Streaming (true) or not, with why; once per transition. */
  onStatus(up: boolean, reason?: string): void;
}

/**
 * TLM ingestion (protocols/tracim.md §8.1, T1-T6): log in, open the live message stream,
 * parse it with a real SSE parser, and on EOF or error reconnect with `after_event_id` = the
 * last event id seen, logging in again on 401/403. Unlike the reference, it never exits.
 */
export class TracimStream {
  private readonly api: string;
  private readonly idleTimeoutMs: number;
  private session: { userId: string; cookie: string } | undefined;
  private lastEventId: number | undefined;
  private readonly backoff = new Backoff({ delays: [100, 500, 1000, 2000, 5000, 10_000], jitter: 0.2 });
  private timer: NodeJS.Timeout | undefined;
  private current: { destroy(): void } | undefined;
  private stopped = true;
  private up: boolean | undefined;

  constructor(
    private readonly account: z.output<typeof tracimAccountConfig>,
    private readonly hooks: TracimStreamHooks,
  ) {
    this.api = account.url.replace(/\/+$/, '');
    this.idleTimeoutMs = account.idleTimeoutMs ?? defaultIdleTimeoutMs;
  }

  /** The last `event_id` received (what a reconnect asks to resume after). */
  get afterEventId(): number | undefined {
    return this.lastEventId;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.current?.destroy();
    this.current = undefined;
  }

  private setStatus(up: boolean, reason?: string): void {
    if (this.up === up) return;
    this.up = up;
    this.hooks.onStatus(up, reason);
  }

  private retry(reason: string): void {
    if (this.stopped || this.hooks.signal.aborted) return;
    this.setStatus(false, reason);
    const delay = this.backoff.next();
    this.hooks.logger.warn(`Tracim live messages: ${reason}; reconnecting in ${delay} ms${this.lastEventId === undefined ? '' : ` after event ${this.lastEventId}`}`);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, delay);
  }

  private connect(): void {
    if (this.stopped) return;
    if (!this.session) {
      this.login()
        .then(
          () => this.connect(),
          (error) => this.retry(`login to ${this.api} failed: ${describeError(error)}`),
        )
        .catch((error) => this.hooks.logger.error(`Tracim live messages: ${describeError(error)}`));
      return;
    }
    try {
      this.listen(this.session);
    } catch (error) {
      this.retry(`could not open the live message stream: ${describeError(error)}`);
    }
  }

  /** T1: `POST {api}/auth/login` with a JSON body; user_id from the body, session_key from the cookie. */
  private async login(): Promise<void> {
    const body: Record<string, string> = { password: this.account.password };
    if (this.account.mail) body.email = this.account.mail;
    if (this.account.username) body.username = this.account.username;
    const { response, text } = await this.call(`${this.api}/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body) });
    if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}: ${text.slice(0, 200)}`);
    const user = JSON.parse(text) as { user_id?: unknown };
    const cookie = (response.headers['set-cookie'] ?? []).map((c) => c.split(';')[0] ?? '').find((c) => c.startsWith('session_key='));
    if (typeof user.user_id !== 'number' && typeof user.user_id !== 'string') throw new Error('the login response has no user_id');
    if (!cookie) throw new Error('the login response set no session_key cookie');
    this.session = { userId: String(user.user_id), cookie };
    this.hooks.onUserId(this.session.userId);
    this.hooks.logger.info(`logged in to Tracim at ${this.api} as user ${this.session.userId}`);
  }

  private call(url: string, options: { method: string; headers: Record<string, string>; body?: string }): Promise<{ response: IncomingMessage; text: string }> {
    const { method, headers, body } = options;
    return new Promise((resolve, reject) => {
      const request = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, { method, headers, signal: this.hooks.signal }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () => resolve({ response, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      });
      request.on('error', reject);
      request.setTimeout(10_000, () => request.destroy(new Error('no answer within 10 s')));
      request.end(body);
    });
  }

  /** T2: `GET {api}/users/{id}/live_messages`, `Accept: text/event-stream`, resuming after the last id (T6). */
  private listen(session: { userId: string; cookie: string }): void {
    const query = this.lastEventId === undefined ? '' : `?after_event_id=${this.lastEventId}`;
    const url = `${this.api}/users/${session.userId}/live_messages${query}`;
    // One reconnect per connection, on whichever comes first: EOF, an error, the close, or silence.
    let over = false;
    const finish = (reason: string): void => {
      if (over) return;
      over = true;
      clearTimeout(idle);
      this.retry(reason);
    };
    const request = (url.startsWith('https:') ? httpsRequest : httpRequest)(
      url,
      { method: 'GET', headers: { Accept: 'text/event-stream', 'Cache-Control': 'no-cache', Cookie: session.cookie }, signal: this.hooks.signal },
      (response) => {
        idle.refresh();
        if (response.statusCode === 401 || response.statusCode === 403) {
          response.resume();
          this.session = undefined;
          finish(`HTTP ${response.statusCode} on the live message stream: logging in again`);
          return;
        }
        if (response.statusCode !== 200) {
          response.resume();
          finish(`HTTP ${response.statusCode} on the live message stream`);
          return;
        }
        this.backoff.reset();
        this.setStatus(true);
        const parser = new SseParser((event) => this.onEvent(event), {
          onOverflow: (length) => this.hooks.logger.error(`Tracim sent a live message event over the 1 MiB limit (${length} bytes so far): skipped, not relayed`),
        });
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          idle.refresh();
          parser.push(chunk);
        });
        response.on('end', () => finish('the live message stream ended (EOF)'));
        response.on('error', (error) => finish(`the live message stream failed: ${describeError(error)}`));
        // A FIN in the middle of the chunked body (Tracim or Pushpin going away) closes it without 'end'.
        response.on('close', () => finish('the live message stream was closed'));
      },
    );
    // Armed once the request exists: if creating it throws, connect() schedules the only retry.
    const idle = setTimeout(() => {
      finish(`nothing on the live message stream for ${this.idleTimeoutMs} ms (Pushpin sends a keep-alive every 30 s): taking it for dead`);
      request.destroy();
    }, this.idleTimeoutMs);
    request.on('error', (error) => finish(`live message stream failed: ${describeError(error)}`));
    request.end();
    this.current = {
      destroy: () => {
        clearTimeout(idle);
        request.destroy();
      },
    };
  }

  private onEvent(event: SseEvent): void {
    switch (event.event) {
      // T4: stream-open and keep-alive carry nothing for clients.
      case 'stream-open':
      case 'keep-alive':
        return;
      case 'stream-error':
        this.hooks.logger.error(`Tracim reported a stream error: ${event.data}`);
        return;
      case 'message': {
        if (event.data.length === 0) return;
        try {
          const tlm = JSON.parse(event.data) as { event_id?: unknown };
          if (typeof tlm.event_id === 'number') this.lastEventId = tlm.event_id;
        } catch {
          this.hooks.logger.warn(`Tracim sent a message that is not JSON; forwarded as is: ${event.data.slice(0, 120)}`);
        }
        this.hooks.onMessage(event.data);
        return;
      }
      default:
        this.hooks.logger.debug?.(`Tracim SSE event "${event.event}" ignored`);
    }
  }
}
