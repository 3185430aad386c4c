import { createHash, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';
import type { Duplex } from 'node:stream';

/** The subprotocol clients may offer; the server selects it when offered. */
export const SUBPROTOCOL = 'patchbay.v1';
/** Prefix of the subprotocol that carries the token (`bearer.<token>`), for clients that cannot set headers. */
export const TOKEN_PROTOCOL_PREFIX = 'bearer.';

/** Why an upgrade was refused: the HTTP status and a reason for people. */
export interface UpgradeRefusal {
  status: number;
  reason: string;
}

/** What the upgrade checks need from the adapter's options. */
export interface UpgradePolicy {
  token: string | undefined;
  allowedOrigins: readonly string[] | undefined;
}

/** Constant-time comparison: both sides are hashed first so neither length nor content leaks through timing. */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token a client presented, from the first of: Authorization header, subprotocol, `?token=`. */
export function presentedToken(request: IncomingMessage, url: URL): string | undefined {
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match) return match[1];
  }
  for (const protocol of offeredProtocols(request)) {
    if (protocol.startsWith(TOKEN_PROTOCOL_PREFIX)) return protocol.slice(TOKEN_PROTOCOL_PREFIX.length);
  }
  return url.searchParams.get('token') ?? undefined;
}

/** The subprotocols a client offered (RFC 6455 §4.1: comma-separated). */
export function offeredProtocols(request: IncomingMessage): string[] {
  const header = request.headers['sec-websocket-protocol'];
  if (typeof header !== 'string') return [];
  return header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/**
 * Is this browser origin allowed? No Origin header: not a browser, so not a cross-site
 * hijacking risk (RFC 6455 §10.2: the Origin check protects browsers' users). Otherwise the
 * origin must be listed, or by default be the very host:port the request was sent to
 * ({@link checkUpgrade} adds the DNS-rebinding rule for that default when there is no token).
 */
export function originAllowed(request: IncomingMessage, allowed: readonly string[] | undefined): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (allowed !== undefined) {
    if (allowed.includes('*')) return true;
    return allowed.some((entry) => sameOrigin(entry, origin));
  }
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  return host !== '' && host === (request.headers.host ?? '').toLowerCase();
}

/**
 * Is this Host header safe from DNS rebinding? A rebinding page reaches the gateway under the
 * attacker's own name, so the browser sends that name as Host, and an Origin to match. A page
 * addressed by `localhost` or by an IP address cannot be rebound: its origin is the gateway itself.
 */
export function hostUnrebindable(host: string | undefined): boolean {
  if (host === undefined) return false;
  // Strict on purpose: no userinfo, path or other tricks a URL parser would accept.
  const match = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9.-]+))(?::\d{1,5})?$/i.exec(host);
  if (!match) return false;
  if (match[1] !== undefined) return isIPv6(match[1]);
  const name = (match[2] ?? '').toLowerCase();
  return name === 'localhost' || isIPv4(name);
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

/** Runs every upgrade check; undefined when the client may connect. */
export function checkUpgrade(request: IncomingMessage, url: URL, policy: UpgradePolicy): UpgradeRefusal | undefined {
  if (!originAllowed(request, policy.allowedOrigins)) {
    return { status: 403, reason: `origin ${JSON.stringify(request.headers.origin)} is not allowed (set options.allowedOrigins)` };
  }
  // Without a token, the default same-host rule alone would let a DNS-rebinding page in.
  if (policy.token === undefined && policy.allowedOrigins === undefined && request.headers.origin !== undefined && !hostUnrebindable(request.headers.host)) {
    return {
      status: 403,
      reason: `origin ${JSON.stringify(request.headers.origin)} is not allowed: with no token, pages may connect only through localhost or an IP address, not a name such as ${JSON.stringify(request.headers.host ?? '')} that DNS rebinding can point anywhere (set options.token or options.allowedOrigins)`,
    };
  }
  if (policy.token !== undefined) {
    const given = presentedToken(request, url);
    if (given === undefined) return { status: 401, reason: 'a token is required: send "Authorization: Bearer <token>", a "bearer.<token>" subprotocol or ?token=' };
    if (!tokenMatches(given, policy.token)) return { status: 401, reason: 'wrong token' };
  }
  return undefined;
}

/**
 * Our subprotocol when offered; else any other that does not carry a token; else the
 * `bearer.<token>` one itself: a client that offers only that one must get it back, or the
 * handshake fails ("Server sent no subprotocol", RFC 6455 §4.1). It goes back only to the
 * client that sent it, over the same connection (issue 14.9).
 */
export function selectProtocol(protocols: Set<string>): string | false {
  if (protocols.has(SUBPROTOCOL)) return SUBPROTOCOL;
  let token: string | undefined;
  for (const protocol of protocols) {
    if (!protocol.startsWith(TOKEN_PROTOCOL_PREFIX)) return protocol;
    token ??= protocol;
  }
  return token ?? false;
}

/** Time a refused client gets to read the answer and close before its connection is cut. */
const REFUSED_LINGER_MS = 1000;

/**
 * Answer a refused upgrade with a plain HTTP response naming the reason, then close. Destroying
 * at once could reset the connection before the client reads why; waiting for the client alone
 * would leave the socket to one that never closes. The unref'd timer never holds up exit.
 */
export function refuse(socket: Duplex, refusal: UpgradeRefusal): void {
  const body = `${refusal.reason}\n`;
  const headers = [
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  if (refusal.status === 401) headers.push('WWW-Authenticate: Bearer realm="patchbay"');
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
  const timer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
