import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeError, isPatchbayError, ErrorCodes, type ReloadResult, type SpecIssue } from '@patchbay/core';
import type { Loaded } from '../config/load.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { isLoopback } from './tokens.js';

/** The answer to `patchbay reload`, `POST /reload` and SIGHUP's log line. */
export type ReloadReport =
  | ({ ok: true; source: string; warnings: string[]; needsRestart: string[] } & ReloadResult)
  | { ok: false; source: string; issues: SpecIssue[]; message: string };

/** Gateway-wide settings a running gateway cannot change: a reload names them, and keeps the old ones. */
export function restartOnlyChanges(running: ResolvedConfig, next: ResolvedConfig): string[] {
  const changed: string[] = [];
  const a = running.config.gateway as Record<string, unknown>;
  const b = next.config.gateway as Record<string, unknown>;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) changed.push(`gateway.${key}`);
  }
  if (JSON.stringify(running.config.log) !== JSON.stringify(next.config.log)) changed.push('log');
  return changed;
}

/**
 * One reload: the config is read again through the same pipeline as at start, validated in
 * full (an invalid one leaves everything running and is reported with every problem), then
 * the gateway restarts only what changed.
 */
export async function reloadWith(options: {
  load: () => Promise<Loaded>;
  apply: (next: ResolvedConfig) => Promise<{ result: ReloadResult; needsRestart: string[] }>;
}): Promise<ReloadReport> {
  const loaded = await options.load();
  if (!loaded.ok) return { ok: false, source: loaded.source, issues: loaded.issues, message: loaded.message };
  try {
    const { result, needsRestart } = await options.apply(loaded.resolved);
    return { ok: true, source: loaded.source, warnings: loaded.warnings, needsRestart, ...result };
  } catch (error) {
    const issues = isPatchbayError(error, ErrorCodes.CONFIG_INVALID) ? ((error.context.issues as SpecIssue[] | undefined) ?? []) : [{ path: '(reload)', message: describeError(error) }];
    return { ok: false, source: loaded.source, issues, message: describeError(error) };
  }
}

/** The line a reload logs, or `patchbay reload` prints. */
export function describeReload(report: ReloadReport): string {
  if (!report.ok) return `reload refused, nothing changed: ${report.message}`;
  const parts = [`restarted: ${report.restarted.join(', ') || 'none'}`, `added: ${report.added.join(', ') || 'none'}`, `removed: ${report.removed.join(', ') || 'none'}`];
  if (report.needsRestart.length > 0) parts.push(`not applied until a restart: ${report.needsRestart.join(', ')}`);
  return `reload from ${report.source}: ${parts.join('; ')}`;
}

/**
 * `POST /reload`, guarded as the WebSocket API is: with a token (any host's `token` option),
 * `Authorization: Bearer <token>` compared in constant time; without one, from loopback only.
 */
export function reloadRoute(options: { tokens: () => readonly string[]; reload: () => Promise<ReloadReport> }) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const answer = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      answer(405, { error: 'POST /reload re-reads the config' });
      return;
    }
    const tokens = options.tokens();
    if (tokens.length > 0) {
      const presented = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
      if (!tokens.some((t) => sameSecret(t, presented))) {
        answer(401, { error: 'POST /reload needs "Authorization: Bearer <token>" (a host token from the config)' });
        return;
      }
    } else if (!isLoopback(req.socket.remoteAddress ?? '')) {
      answer(403, { error: 'POST /reload without a token is served to this machine only' });
      return;
    }
    options.reload().then(
      (report) => answer(report.ok ? 200 : 422, report),
      (error: unknown) => answer(500, { ok: false, message: describeError(error) }),
    );
  };
}

function sameSecret(expected: string, presented: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}
