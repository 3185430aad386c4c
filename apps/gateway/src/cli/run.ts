import type { Command } from 'commander';
import type { ReloadReport } from '../run/reload.js';
import { HTTP_PORT_HINT, type CliContext } from './context.js';

// Each command imports what it runs on only when it runs: a mode must write its pid file as
// early as it can (the host that started it polls for it), so no other command's modules load first.

/** `patchbay run [--config FILE] [--pid FILE]`. */
export function registerRun(program: Command, ctx: CliContext): void {
  program
    .command('run', { isDefault: true })
    .description('run the gateway (the embedded default when no config is given)')
    .option('-c, --config <file>', 'YAML or JSON config file (default: $PATCHBAY_CONFIG, else the embedded default)')
    .option('--pid <file>', 'write the process id to this file; removed on a clean stop')
    .option('--data-dir <dir>', 'override gateway.dataDir (env PATCHBAY_DATA_DIR)')
    .option('--port <port>', 'override gateway.http.port (env PATCHBAY_HTTP_PORT)', (v) => Number.parseInt(v, 10))
    .option('--host <address>', 'override gateway.http.host (env PATCHBAY_HTTP_HOST)')
    .option('--serial-sim', 'also bridge the simulated device through the serial driver, over a socat pseudo-terminal pair (embedded default only)')
    .action(async (options: { config?: string; pid?: string; dataDir?: string; port?: number; host?: string; serialSim?: boolean }) => {
      const [{ describeError, silentLogger }, { loadConfig }, { runGateway }, { handleSignals }, { startSerialSimLine }, { reloadWith, describeReload }] = await Promise.all([
        import('@patchbay/core'),
        import('../config/load.js'),
        import('../run/gateway.js'),
        import('../run/signals.js'),
        import('./serialSimLine.js'),
        import('../run/reload.js'),
      ]);
      const line = options.serialSim ? await startSerialSimLine({ dataDir: options.dataDir ?? (ctx.env.PATCHBAY_DATA_DIR || './data'), logger: silentLogger }) : undefined;
      const load = () => loadConfig({
        file: options.config,
        env: ctx.env,
        flags: { dataDir: options.dataDir, port: options.port, host: options.host, extraDevices: line ? [{ id: 'thermo-serial', driver: 'serial', options: { path: line.path } }] : [] },
        registry: ctx.registry,
        cwd: ctx.cwd,
        embeddedFallback: ctx.embeddedFallback,
      });
      let loaded: Awaited<ReturnType<typeof load>>;
      try {
        loaded = await load();
      } catch (error) {
        // A data directory that cannot be written (the embedded default keeps its keys there).
        console.error(`patchbay: ${describeError(error)}`);
        await line?.stop();
        ctx.exit(1);
        return;
      }
      for (const warning of loaded.warnings) console.error(`${loaded.source}: warning: ${warning}`);
      if (!loaded.ok) {
        console.error(loaded.message);
        await line?.stop();
        ctx.exit(1);
        return;
      }
      let running: Awaited<ReturnType<typeof runGateway>>;
      try {
        // The process stops itself the one way it always does, so a host's request drains like SIGTERM.
        running = await runGateway(loaded.resolved, { pidFile: options.pid, source: loaded.source, httpPortHint: HTTP_PORT_HINT, onStopRequested: () => process.kill(process.pid, 'SIGTERM') });
      } catch (error) {
        // One line, not a stack: what failed and how to fix it (a busy port names the option).
        console.error(`patchbay: ${describeError(error)}`);
        await line?.stop();
        ctx.exit(1);
        return;
      }
      // One reload at a time, whether it came by SIGHUP or POST /reload.
      let reloading: Promise<unknown> = Promise.resolve();
      const reload = (): Promise<ReloadReport> => {
        const next = reloading.then(() => reloadWith({ load, apply: (resolved) => running.reload(resolved) }));
        reloading = next.catch(() => undefined);
        return next.then((report) => {
          if (report.ok) running.logger.info(report, describeReload(report));
          else running.logger.error({ issues: report.issues }, describeReload(report));
          return report;
        });
      };
      running.serveReload(reload);
      handleSignals({
        reload: () => void reload().catch((error: unknown) => running.logger.error({ err: error }, `reload failed: ${describeError(error)}`)),
        stop: async () => {
          await running.stop();
          await line?.stop();
        },
        logger: running.logger,
        exit: ctx.exit,
        interactive: ctx.interactive,
      });
    });
}
