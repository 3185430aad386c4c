import type { Command } from 'commander';
import type { CliContext } from './context.js';

/**
 * `patchbay reload`: asks a running gateway to re-read its config (`POST /reload`) and prints
 * what it restarted, added and removed, or every problem of a config it refused. SIGHUP does
 * the same without the answer.
 */
export function registerReload(program: Command, ctx: CliContext): void {
  program
    .command('reload')
    .description("re-read a running gateway's config; prints what restarted, or every problem of a refused config")
    .option('-c, --config <file>', "take the gateway's address from this config file (default: $PATCHBAY_CONFIG)")
    .option('--url <url>', 'the gateway\'s HTTP address (default: from the config, else http://127.0.0.1:$PATCHBAY_HTTP_PORT or 8080)')
    .option('--token <token>', 'a host token, when the gateway has one (default: $PATCHBAY_TOKEN)')
    .action(async (options: { config?: string; url?: string; token?: string }) => {
      const [{ describeError }, { describeReload }] = await Promise.all([import('@patchbay/core'), import('../run/reload.js')]);
      let base = options.url;
      const file = options.config ?? (ctx.env.PATCHBAY_CONFIG || undefined);
      if (base === undefined && file !== undefined) {
        // Only the address is read here, leniently, with the env overlay: the gateway validates
        // the whole file itself, and an invalid one is what it must answer about.
        const [{ readConfigFile }, { overlayConfig }, { defaultHttp }] = await Promise.all([import('../config/file.js'), import('../config/overlay.js'), import('../config/schema.js')]);
        let http: { host?: unknown; port?: unknown } | undefined;
        try {
          const raw = overlayConfig(readConfigFile(file), { env: ctx.env }) as { gateway?: { http?: { host?: unknown; port?: unknown } } };
          http = raw.gateway?.http;
        } catch (error) {
          console.error(`patchbay reload: ${describeError(error)}`);
          ctx.exit(1);
          return;
        }
        const host = typeof http?.host === 'string' ? http.host : defaultHttp.host;
        const port = typeof http?.port === 'number' ? http.port : defaultHttp.port;
        base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      }
      base ??= `http://127.0.0.1:${ctx.env.PATCHBAY_HTTP_PORT || 8080}`;
      const token = options.token ?? ctx.env.PATCHBAY_TOKEN;
      let response: Response;
      try {
        response = await fetch(new URL('/reload', base), { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(60_000) });
      } catch (error) {
        console.error(`patchbay reload: no gateway answered at ${base} (${describeError((error as { cause?: unknown }).cause ?? error)}); start one, or give --url`);
        ctx.exit(1);
        return;
      }
      const body = (await response.json().catch(() => ({}))) as Parameters<typeof describeReload>[0] & { error?: string; issues?: { path: string; message: string }[] };
      if (response.status === 401 || response.status === 403 || response.status === 405) {
        console.error(`patchbay reload: ${body.error ?? `HTTP ${response.status}`}`);
        ctx.exit(1);
        return;
      }
      if (body.ok) {
        console.log(describeReload(body));
        return;
      }
      console.error(describeReload(body));
      ctx.exit(1);
    });
}
