/** Keys whose values are secrets wherever they sit in a config or options object. */
const secretKey = /apikey|api_key|password|passwd|secret|token|encryptionkey|credential/i;

/**
 * A URL with its user info and every secret-looking query parameter replaced, for printing
 * (a callback such as `http://user:pass@host/x.php?apikey=...`); anything else unchanged.
 */
export function redactUrl(value: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return value;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // Not parseable: still drop what looks like user info and a query.
    return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1[redacted]@').replace(/\?[\s\S]*$/, '?[redacted]');
  }
  let changed = false;
  if (url.username || url.password) {
    url.username = 'redacted';
    url.password = '';
    changed = true;
  }
  for (const key of [...url.searchParams.keys()]) {
    if (secretKey.test(key) || key.toLowerCase() === 'key') {
      url.searchParams.set(key, 'redacted');
      changed = true;
    }
  }
  return changed ? url.href.replace(/redacted@/, '[redacted]@').replace(/=redacted(&|$)/g, '=[redacted]$1') : value;
}

/** A deep copy with every secret-looking value (and a URL's credentials) replaced, for printing and logging. */
export function redactSecrets<T>(value: T): T {
  if (typeof value === 'string') return redactUrl(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactSecrets(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = secretKey.test(k) && v !== undefined && v !== null && typeof v !== 'object' ? '[redacted]' : redactSecrets(v);
    return out as T;
  }
  return value;
}

/** pino redact paths for the same secrets wherever a config or options object is logged. */
export const redactPaths = [
  'apikey',
  'password',
  'token',
  'secret',
  'encryptionKey',
  '*.apikey',
  '*.password',
  '*.token',
  '*.secret',
  '*.encryptionKey',
  '*.*.apikey',
  '*.*.password',
  '*.*.token',
  '*.*.encryptionKey',
  'req.headers.authorization',
];
