import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Signal } from '@patchbay/testing';

/** A recorded request to the fake Tracim. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/**
 * A small fake Tracim (protocols/tracim.md §8.1): `POST /api/auth/login` answers a user with a
 * `session_key` cookie; `GET /api/users/{id}/live_messages` is scripted per connection by
 * the test (`streams[n]` writes the n-th stream), so chunking and EOF are under its control.
 */
export class FakeTracim {
  readonly requests: SeenRequest[] = [];
  readonly changed = new Signal();
  /** One function per live_messages connection, in order; the last one repeats. */
  streams: ((res: ServerResponse, req: IncomingMessage) => void)[] = [];
  /** Stream requests (0-based, in arrival order) to refuse with 401, as an expired session is. */
  refuse = new Set<number>();
  private streamRequestCount = 0;
  userId = 5;
  sessions = 0;
  private server: Server | undefined;
  private streamCount = 0;
  readonly open = new Set<ServerResponse>();

  get url(): string {
    return `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}/api`;
  }

  /** Live message stream requests so far. */
  streamRequests(): SeenRequest[] {
    return this.requests.filter((r) => r.url.includes('/live_messages'));
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
        this.changed.notify();
        this.route(req, res);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    if (req.method === 'POST' && req.url === '/api/auth/login') {
      this.sessions++;
      res.writeHead(200, { 'Content-Type': 'application/json', 'Set-Cookie': `session_key=sess${this.sessions}; Path=/; HttpOnly` });
      res.end(JSON.stringify({ user_id: this.userId, username: 'admin', public_name: 'Admin' }));
      return;
    }
    if (req.method === 'GET' && req.url?.startsWith(`/api/users/${this.userId}/live_messages`)) {
      if (this.refuse.has(this.streamRequestCount++)) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        res.end('{"code":1002,"message":"not authenticated"}');
        return;
      }
      if (req.headers.accept !== 'text/event-stream' || !req.headers.cookie?.includes('session_key=')) {
        res.writeHead(400);
        res.end('{"message":"Accept: text/event-stream and a session are required"}');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      this.open.add(res);
      res.on('close', () => this.open.delete(res));
      const script = this.streams[Math.min(this.streamCount++, this.streams.length - 1)];
      script?.(res, req);
      return;
    }
    res.writeHead(404);
    res.end();
  }

  async stop(): Promise<void> {
    for (const res of this.open) res.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

/** A TLM as Tracim writes it (json.dumps style, §8.2). */
export function tlm(eventId: number, eventType = 'content.created.comment'): string {
  return JSON.stringify({ event_id: eventId, event_type: eventType, created: '2025-03-27T13:51:25Z', read: null, fields: { author: null, client_token: null } }).replace(/,"/g, ', "').replace(/":/g, '": ');
}
