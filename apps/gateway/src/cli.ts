#!/usr/bin/env node
/**
 * The `patchbay` binary, and the one place that reads the process's environment: everything
 * below gets it (with the arguments, the working directory and the registry) as values.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerCheck } from './cli/check.js';
import { registerConfig } from './cli/config.js';
import type { CliContext } from './cli/context.js';
import { registerRun } from './cli/run.js';
import { registerSim } from './cli/sim.js';
import { builtinsOf } from './config/builtins.js';
import { createRegistry } from './config/registry.js';
import { embeddedFallback, modes } from './modes/index.js';
import { registerReload } from './cli/reload.js';

const here = dirname(fileURLToPath(import.meta.url));
const manifest = JSON.parse(readFileSync(join(here, '../package.json'), 'utf8')) as { version: string; dependencies?: Record<string, string> };
const builtins = builtinsOf(manifest);

const argv = process.argv.slice(2);
const context = (commandArgs: readonly string[]): CliContext => ({
  env: { ...process.env },
  argv: commandArgs,
  cwd: process.cwd(),
  interactive: process.stdin.isTTY === true,
  registry: createRegistry(builtins, { cwd: process.cwd() }),
  embeddedFallback,
  exit: (code) => process.exit(code),
});
const ctx = context(argv);

const program = new Command('patchbay')
  .description('Patchbay: bridge devices into several home-automation hosts at once')
  .version(manifest.version)
  .showHelpAfterError();
registerRun(program, ctx);
registerCheck(program, ctx);
registerConfig(program, ctx);
registerReload(program, ctx);
registerSim(program);
for (const mode of modes) {
  const command = program.command(mode.name).description(mode.description).allowUnknownOption(true).allowExcessArguments(true);
  for (const [flags, description, defaultValue] of mode.options) command.option(flags, description, defaultValue);
  // A mode parses its own words (its host's conventions); commander gives help and dispatch.
  command.action(() => mode.run(context(argv.slice(argv.indexOf(mode.name) + 1))));
}

// `run` is the default command, so commander would read `patchbay bogus` as "too many
// arguments for 'run'": name an unknown command as one.
const first = argv[0];
const commands = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
if (first !== undefined && !first.startsWith('-') && first !== 'help' && !commands.includes(first)) {
  process.stderr.write(`patchbay: unknown command '${first}' (commands: ${commands.join(', ')}; see patchbay --help)\n`);
  process.exit(1);
}
await program.parseAsync(process.argv);
