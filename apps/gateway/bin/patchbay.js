#!/usr/bin/env node
// The installed `patchbay` binary (node_modules/.bin/patchbay after `npm ci`): it exists before
// anything is built, runs the built CLI, and says how to build it when that is missing.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('patchbay: the gateway is not built yet: run `npm run build` in the repository (or `npm start`, which builds it first)\n');
  process.exit(1);
}
await import(cli.href);
