/** Real gateway processes of one cluster, and a WebSocket client of one of them. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Signal, spawnPatchbay, type PatchbayProcess } from '@patchbay/testing';
import { WebSocket } from 'ws';

export type WsMessage = Record<string, unknown> & { type: string };

/** A ws API client that records every message. */
export class WsClient {
  readonly messages: WsMessage[] = [];
  private readonly changed = new Signal();

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.messages.push(JSON.parse(String(data)) as WsMessage);
      this.changed.notify();
    });
  }

  static async open(url: string): Promise<WsClient> {
    const client = new WsClient(new WebSocket(url));
    await client.waitFor((m) => m.type === 'snapshot', 'the snapshot');
    return client;
  }

  waitFor(predicate: (m: WsMessage) => boolean, what: string, timeoutMs = 15_000): Promise<WsMessage> {
    return this.changed.waitUntil(() => this.messages.find(predicate), { timeoutMs, what });
  }

  /** The first message matching after index `from`. */
  waitAfter(predicate: (m: WsMessage) => boolean, { from, what, timeoutMs = 15_000 }: { from: number; what: string; timeoutMs?: number }): Promise<WsMessage> {
    return this.changed.waitUntil(() => this.messages.slice(from).find(predicate), { timeoutMs, what });
  }

  count(predicate: (m: WsMessage) => boolean): number {
    return this.messages.filter(predicate).length;
  }

  /** Sends a command and waits for its reply. */
  async command(command: Record<string, unknown> & { id: string }): Promise<WsMessage> {
    this.socket.send(JSON.stringify({ type: 'command', ...command }));
    return this.waitFor((m) => m.type === 'reply' && m.id === command.id, `the reply to ${command.id}`);
  }

  close(): void {
    this.socket.terminate();
  }
}

/** Writes a gateway's config in `dir` and returns a function that runs it (again). */
export function gatewayProcess(dir: string, config: Record<string, unknown>): () => PatchbayProcess {
  const file = join(dir, `${String((config.gateway as { name: string }).name)}.json`);
  writeFileSync(file, JSON.stringify({ log: { level: 'info', format: 'json' }, ...config }));
  return () => spawnPatchbay(['run', '--config', file, '--port', '0']);
}
