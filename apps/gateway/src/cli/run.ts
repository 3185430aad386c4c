import type { Command } from 'commander';

// Each command imports what it runs on only when it runs: `patchbay jeedom` must write its pid
// file as early as it can (Jeedom polls for it), so no other command's modules load first.

/** `patchbay run [--config FILE] [--pid FILE]`. */
export default function register(program: Command): void {
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
      const [{ silentLogger }, { loadConfig }, { runGateway, stopOnSignals }, { startSerialSimLine }] = await Promise.all([
        import('@patchbay/core'),
        import('../load.js'),
        import('../run.js'),
        import('../serialSimLine.js'),
      ]);
      const overrides = { dataDir: options.dataDir, port: options.port, host: options.host };
      const line = options.serialSim ? await startSerialSimLine({ dataDir: options.dataDir ?? process.env.PATCHBAY_DATA_DIR ?? './data', logger: silentLogger }) : undefined;
      const loaded = await loadConfig({ file: options.config, overrides, extraDevices: line ? [{ id: 'thermo-serial', driver: 'serial', options: { path: line.path } }] : [] });
      if (!loaded) {
        await line?.stop();
        process.exitCode = 1;
        return;
      }
      const running = await runGateway(loaded.resolved, { pidFile: options.pid, source: loaded.source });
      if (line) {
        const stop = running.stop;
        running.stop = async () => {
          await stop();
          await line.stop();
        };
      }
      stopOnSignals(running);
    });
}
