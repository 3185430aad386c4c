import { ErrorCodes, PatchbayError } from '@patchbay/core';
import { resolve } from 'node:path';

/** A parsed `sockethandler` (protocols/comodojo.md §1.1). */
export type SocketAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** The comodojo default port when a `tcp://` address has none. */
export const DEFAULT_PORT = 10042;

/**
 * Parses `unix://PATH` (relative to the working directory) or `tcp://HOST[:PORT]`; other
 * schemes are treated like `tcp://`, as the reference does, except `udp://` which cannot work.
 */
export function parseAddress(uri: string): SocketAddress {
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(uri);
  if (!match) throw new PatchbayError(ErrorCodes.CONFIG_INVALID, `socket: expected unix://PATH or tcp://HOST:PORT, got ${JSON.stringify(uri)}`);
  const scheme = (match[1] as string).toLowerCase();
  const rest = match[2] as string;
  if (scheme === 'unix') {
    if (rest === '') throw new PatchbayError(ErrorCodes.CONFIG_INVALID, `socket: unix:// needs a path, got ${JSON.stringify(uri)}`);
    return { kind: 'unix', path: resolve(rest) };
  }
  if (scheme === 'udp') throw new PatchbayError(ErrorCodes.CONFIG_INVALID, `socket: udp:// cannot carry the comodojo stream protocol, use tcp:// or unix://`);
  const hostPort = /^(\[[^\]]+\]|[^:/]*)(?::(\d+))?\/?$/.exec(rest);
  if (!hostPort) throw new PatchbayError(ErrorCodes.CONFIG_INVALID, `socket: cannot read host and port from ${JSON.stringify(uri)}`);
  const host = (hostPort[1] as string).replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = hostPort[2] === undefined ? DEFAULT_PORT : Number(hostPort[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new PatchbayError(ErrorCodes.CONFIG_INVALID, `socket: port ${hostPort[2]} is out of range`);
  return { kind: 'tcp', host, port };
}

/** The URI form of an address (with the real bound port). */
export function formatAddress(address: SocketAddress): string {
  return address.kind === 'unix' ? `unix://${address.path}` : `tcp://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}
