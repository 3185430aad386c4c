import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpMount } from '@patchbay/core';

/** The page's assets, next to this module in `page/` (the build copies them to `dist/page/`). */
const assets = [
  { file: 'index.html', type: 'text/html; charset=utf-8' },
  { file: 'status.js', type: 'text/javascript; charset=utf-8' },
  { file: 'status.css', type: 'text/css; charset=utf-8' },
] as const;

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** Where the page is served and which socket it opens. */
export interface StatusPageOptions {
  pagePath: string;
  wsPath: string;
}

/**
 * Reads the status page's files once and serves them: the page at `pagePath`, its script
 * and stylesheet beside it. Returns a function that removes the routes.
 */
export async function mountStatusPage(http: HttpMount, options: StatusPageOptions): Promise<() => void> {
  const base = options.pagePath.endsWith('/') ? options.pagePath : `${options.pagePath}/`;
  const loaded = await Promise.all(
    assets.map(async ({ file, type }) => {
      let text = await readFile(new URL(`./page/${file}`, import.meta.url), 'utf8');
      // The page learns where its socket and assets are from placeholders, so both paths stay configurable.
      text = text.replaceAll('%WS_PATH%', escapeAttribute(options.wsPath)).replaceAll('%BASE%', escapeAttribute(base));
      const body = Buffer.from(text);
      const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
      return [file, { body, type, etag }] as const;
    }),
  );
  const byFile = new Map<string, Asset>(loaded);
  const removers = [
    http.route(options.pagePath, serve(byFile.get('index.html') as Asset)),
    http.route(`${base}status.js`, serve(byFile.get('status.js') as Asset)),
    http.route(`${base}status.css`, serve(byFile.get('status.css') as Asset)),
  ];
  return () => {
    for (const remove of removers) remove();
  };
}

function serve(asset: Asset): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      response.end('method not allowed: use GET\n');
      return;
    }
    const headers = {
      'Content-Type': asset.type,
      'Cache-Control': 'no-cache',
      ETag: asset.etag,
      'X-Content-Type-Options': 'nosniff',
      // Only our own script, style and socket: the page renders data with textContent, never HTML.
      'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    };
    if (request.headers['if-none-match'] === asset.etag) {
      response.writeHead(304, headers);
      response.end();
      return;
    }
    response.writeHead(200, { ...headers, 'Content-Length': asset.body.length });
    response.end(request.method === 'HEAD' ? undefined : asset.body);
  };
}

function escapeAttribute(value: string): string {
  return value.replace(/[&"<>]/g, (c) => ({ '&': '&amp;', '"': '&quot;', '<': '&lt;', '>': '&gt;' })[c] as string);
}
