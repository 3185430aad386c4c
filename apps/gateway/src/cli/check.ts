import type { Command } from 'commander';

/** `patchbay check FILE`: validate and list every error with its path; exit 1 on any. */
export default function register(program: Command): void {
  program
    .command('check')
    .description('validate a config file, listing every problem with its path')
    .argument('<file>', 'YAML or JSON config file')
    .action(async (file: string) => {
      const { loadConfig } = await import('../load.js');
      const loaded = await loadConfig({ file });
      if (!loaded) {
        process.exitCode = 1;
        return;
      }
      const { resolved } = loaded;
      console.log(`${file}: OK (${resolved.devices.length} devices, ${resolved.hosts.length} hosts)`);
    });
}
