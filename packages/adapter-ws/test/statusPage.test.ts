import { afterEach, describe, expect, it } from 'vitest';
import { startRig, type Rig } from './rig.js';

const rigs: Rig[] = [];
afterEach(async () => {
  while (rigs.length > 0) await (rigs.pop() as Rig).stop();
});

describe('status page - served on the gateway HTTP server', () => {
  it('status page - serves the page with its socket path, the script and the stylesheet', async () => {
    const r = await startRig({ path: '/api/ws' });
    rigs.push(r);
    const page = await fetch(`${r.http.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const html = await page.text();
    expect(html).toContain('<meta name="patchbay-ws" content="/api/ws">');
    expect(html).toMatch(/<html lang="en">/);
    const script = await fetch(`${r.http.url}/status.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toContain('new WebSocket');
    const css = await fetch(`${r.http.url}/status.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    // Revalidation is cheap.
    const again = await fetch(`${r.http.url}/status.js`, { headers: { 'If-None-Match': script.headers.get('etag') as string } });
    expect(again.status).toBe(304);
    const post = await fetch(`${r.http.url}/`, { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('status page - page: false serves the API alone', async () => {
    const r = await startRig({ page: false });
    rigs.push(r);
    expect((await fetch(`${r.http.url}/`)).status).toBe(404);
    await expect(r.connect()).resolves.toBeDefined();
  });
});
