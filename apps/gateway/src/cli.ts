#!/usr/bin/env node
/** The `patchbay` binary: every subcommand is a module in ./commands that default-exports `register(program)`. */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { registerBuiltins } from './builtins.js';

const here = dirname(fileURLToPath(import.meta.url));
const { version } = JSON.parse(readFileSync(join(here, '../package.json'), 'utf8')) as { version: string };

registerBuiltins();
const program = new Command('patchbay')
  .description('Patchbay: bridge devices into several home-automation hosts at once')
  .version(version)
  .showHelpAfterError();

// Subcommands are found, not listed, so a mode (jeedom, sim) is one file.
const commandsDir = join(here, 'commands');
const modules = readdirSync(commandsDir)
  .filter((f) => /\.(ts|js)$/.test(f) && !/\.(d|test)\.ts$/.test(f) && !f.endsWith('.map'))
  .sort((a, b) => (a.startsWith('run.') ? -1 : b.startsWith('run.') ? 1 : a.localeCompare(b)));
for (const file of modules) {
  const module = (await import(pathToFileURL(join(commandsDir, file)).href)) as { default?: (p: Command) => void };
  module.default?.(program);
}

await program.parseAsync(process.argv);
