import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { ResolvedConfig } from '../config/resolve.js';
import { keysAt } from '../config/validate.js';

/** True for an address only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1' || h.startsWith('::ffff:127.');
}

/**
 * Fail closed when the gateway's HTTP server is reachable from other machines: every host
 * whose options take a `token` (the ones that accept commands on that server) must have one.
 * A missing token is generated into `<dataDir>/<host>.token` (0600, reused on later runs) and
 * the log says where it is. Returns the config with those tokens set; the input is unchanged.
 */
export function requireHttpTokens(resolved: ResolvedConfig, logger: { warn(msg: string): void }): ResolvedConfig {
  const { http } = resolved.config.gateway;
  if (!http.enabled || isLoopback(http.host)) return resolved;
  let options: Map<string, unknown> | undefined;
  let hosts = resolved.hosts;
  for (const host of resolved.hosts) {
    const parsed = resolved.options.get(host.id) as Record<string, unknown> | undefined;
    if (!parsed || parsed.token !== undefined || !keysAt(host.definition.config, []).includes('token')) continue;
    const file = join(resolved.dataDir, `${host.id}.token`);
    let token: string;
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch {
      token = randomBytes(24).toString('base64url');
      mkdirSync(resolved.dataDir, { recursive: true, mode: 0o700 });
      writeFileSync(file, token + '\n', { mode: 0o600 });
    }
    options ??= new Map(resolved.options);
    options.set(host.id, { ...parsed, token });
    // The gateway validates raw options again itself: the token goes into those too.
    hosts = hosts.map((h) => (h.id === host.id ? { ...h, options: { ...(h.options as Record<string, unknown> | undefined), token } } : h));
    logger.warn(
      `the HTTP server listens on ${http.host}, which is not loopback: host ${host.id} had no token, so clients must present the one in ${file} (0600); set hosts[].options.token to choose it`,
    );
  }
  return options ? { ...resolved, options, hosts } : resolved;
}
