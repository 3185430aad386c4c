import type { Command } from 'commander';

/** `patchbay config [--config FILE]`: print the resolved config with every default applied, secrets redacted. */
export default function register(program: Command): void {
  program
    .command('config')
    .description('print the resolved config (defaults applied, secrets redacted)')
    .option('-c, --config <file>', 'YAML or JSON config file (default: $PATCHBAY_CONFIG, else the embedded default)')
    .option('--format <format>', 'yaml or json', 'yaml')
    .action(async (options: { config?: string; format: string }) => {
      const [{ stringify }, { redactSecrets }, { loadConfig }] = await Promise.all([import('yaml'), import('../config.js'), import('../load.js')]);
      const loaded = await loadConfig({ file: options.config });
      if (!loaded) {
        process.exitCode = 1;
        return;
      }
      const { config, devices, hosts, options: parsed } = loaded.resolved;
      const full = {
        ...config,
        devices: devices.map((d) => ({ id: d.id, driver: d.definition.type, options: parsed.get(d.id) })),
        hosts: hosts.map((h) => ({ id: h.id, adapter: h.definition.type, options: parsed.get(h.id) })),
      };
      const redacted = redactSecrets(full);
      process.stdout.write(options.format === 'json' ? JSON.stringify(redacted, null, 2) + '\n' : stringify(redacted));
    });
}
