import type { Command } from 'commander';
import type { CliContext } from './context.js';

/** `patchbay check FILE`: validate and list every problem with its path, in one pass; exit 1 on any. */
export function registerCheck(program: Command, ctx: CliContext): void {
  program
    .command('check')
    .description('validate a config file, listing every problem with its path')
    .argument('<file>', 'YAML or JSON config file')
    .action(async (file: string) => {
      const { loadConfig } = await import('../config/load.js');
      const loaded = await loadConfig({ file, env: ctx.env, registry: ctx.registry, cwd: ctx.cwd, embeddedFallback: ctx.embeddedFallback });
      for (const warning of loaded.warnings) console.error(`${file}: warning: ${warning}`);
      if (!loaded.ok) {
        console.error(loaded.message);
        ctx.exit(1);
        return;
      }
      const { resolved } = loaded;
      console.log(`${file}: OK (${resolved.devices.length} devices, ${resolved.hosts.length} hosts)`);
    });
}
