import type { Command } from 'commander';
import type { CliContext } from './context.js';

/** Keys whose numbers are file modes, printed in octal as people write them (`0o600`, not 384). */
const modeKey = /(^|[a-z])mode$/i;

/** A copy with every file-mode number written in octal (`"0600"`). */
export function octalModes(value: unknown, key = ''): unknown {
  if (typeof value === 'number' && modeKey.test(key) && Number.isInteger(value) && value >= 0 && value <= 0o7777) return `0${value.toString(8).padStart(3, '0')}`;
  if (Array.isArray(value)) return value.map((v) => octalModes(v));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, octalModes(v, k)]));
  return value;
}

/** `patchbay config [--config FILE]`: print the resolved config with every default applied, secrets redacted. */
export function registerConfig(program: Command, ctx: CliContext): void {
  program
    .command('config')
    .description('print the resolved config (defaults applied, secrets redacted, modes in octal)')
    .option('-c, --config <file>', 'YAML or JSON config file (default: $PATCHBAY_CONFIG, else the embedded default)')
    .option('--format <format>', 'yaml or json', 'yaml')
    .action(async (options: { config?: string; format: string }) => {
      const [{ stringify }, { redactSecrets }, { loadConfig }] = await Promise.all([import('yaml'), import('../config/redact.js'), import('../config/load.js')]);
      const loaded = await loadConfig({ file: options.config, env: ctx.env, registry: ctx.registry, cwd: ctx.cwd, embeddedFallback: ctx.embeddedFallback });
      for (const warning of loaded.warnings) console.error(`${loaded.source}: warning: ${warning}`);
      if (!loaded.ok) {
        console.error(loaded.message);
        ctx.exit(1);
        return;
      }
      const { config, devices, hosts, options: parsed } = loaded.resolved;
      const full = {
        ...config,
        devices: devices.map((d) => ({ id: d.id, driver: d.definition.type, options: parsed.get(d.id) })),
        hosts: hosts.map((h) => ({ id: h.id, adapter: h.definition.type, options: parsed.get(h.id) })),
      };
      const printed = octalModes(redactSecrets(full));
      process.stdout.write(options.format === 'json' ? JSON.stringify(printed, null, 2) + '\n' : stringify(printed));
    });
}
