#!/usr/bin/env node
/**
 * The Dockerfile's last build step: copy what `node apps/gateway/dist/cli.js` needs into one
 * folder (argv[2]), keeping the repository's layout, so the runtime stage takes it with a single
 * COPY. Run after `npm run build`. It walks the gateway's production dependencies the way Node
 * resolves them: a workspace package contributes its package.json and what its `files`
 * publishes (dist, bin); another package is copied whole, except other platforms' prebuilt
 * addons and addon sources (zeromq, serialport). Workspaces the gateway does not run (bench/,
 * test/, and the dependencies only they have, such as vitest) stay behind; `npm prune --omit=dev`
 * alone would keep them, because they are workspaces too.
 */
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, realpathSync, symlinkSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const out = process.argv[2];
if (!out) {
  console.error('usage: node scripts/docker/stageRuntime.mjs OUT_DIR');
  process.exit(2);
}
const repo = process.cwd();
const readPackage = (dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));

/** Where `dep` is found from `fromDir`: node_modules/dep in it, then in each parent up to the repository. */
function lookup(dep, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', dep);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === repo || dirname(dir) === dir) return undefined;
  }
}

/** Files of an installed package that never run here: addon sources and other platforms' binaries. */
function runs(pkgName, pkgDir, path) {
  const parts = relative(pkgDir, path).split(sep);
  if (parts[0] === 'node_modules') return false; // nested dependencies are staged by the walk, if used
  const { platform, arch } = process;
  if (pkgName === 'zeromq') {
    if (['src', 'script', 'vcpkg.json', 'CMakeLists.txt'].includes(parts[0])) return false;
    if (parts[0] === 'build' && parts.length >= 2 && !['manifest.json', platform].includes(parts[1])) return false;
    if (parts[0] === 'build' && parts.length >= 3 && parts[2] !== arch) return false;
  }
  if (pkgName === '@serialport/bindings-cpp') {
    if (['src', 'binding.gyp'].includes(parts[0])) return false;
    if (parts[0] === 'prebuilds' && parts.length >= 2) {
      const [os, arches = ''] = parts[1].split('-');
      if (os !== platform || !arches.split('+').includes(arch)) return false;
    }
  }
  return true;
}

const staged = new Set();
function stage(dir) {
  if (staged.has(dir)) return;
  staged.add(dir);
  const pkg = readPackage(dir);
  const rel = relative(repo, dir);
  if (!rel.split(sep).includes('node_modules')) {
    // A workspace: what it publishes.
    for (const entry of ['package.json', ...(pkg.files ?? [])]) {
      if (existsSync(join(dir, entry))) cpSync(join(dir, entry), join(out, rel, entry), { recursive: true });
    }
  } else {
    cpSync(dir, join(out, rel), { recursive: true, filter: (path) => runs(pkg.name, dir, path) });
  }
  const optional = pkg.optionalDependencies ?? {};
  for (const dep of Object.keys({ ...pkg.dependencies, ...optional })) {
    const found = lookup(dep, dir);
    if (found === undefined) {
      if (dep in optional) continue;
      throw new Error(`stageRuntime: ${pkg.name} needs ${dep}, which is not installed (npm ci first)`);
    }
    if (lstatSync(found).isSymbolicLink()) {
      // A workspace link (node_modules/@patchbay/core -> ../../packages/core): kept as it is.
      const link = join(out, relative(repo, found));
      if (!existsSync(link)) {
        mkdirSync(dirname(link), { recursive: true });
        symlinkSync(readlinkSync(found), link);
      }
    }
    stage(realpathSync(found));
  }
}

mkdirSync(out, { recursive: true });
for (const file of ['package.json', 'package-lock.json']) cpSync(file, join(out, file));
stage(resolve(repo, 'apps/gateway'));
console.log(`stageRuntime: ${staged.size} packages in ${out}`);
