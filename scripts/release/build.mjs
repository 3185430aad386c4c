#!/usr/bin/env node
/**
 * `npm run release`: a self-contained tarball of the gateway for this platform, that needs no
 * build and no npm on the target (a Jeedom box, often a Raspberry Pi):
 *
 *   patchbay-<version>-<platform>-<arch>/
 *     bin/patchbay                 the launcher (sh): finds Node.js >= 20.11, runs the CLI
 *     lib/node_modules/...         @patchbay/* transpiled to dist/ (esbuild, no type check: CI
 *                                  type-checks), plus their production dependencies copied from
 *                                  node_modules, native addons (zeromq, serialport) pruned to
 *                                  this platform's prebuilt binaries
 *     VERSION, README
 *   patchbay-<version>-<platform>-<arch>.tar.gz and .tar.gz.sha256 (`sha256sum` format)
 *
 * Options: --out DIR (default dist/release), --node (also ship this Node.js binary as node/bin/node).
 * The workspace packages are read from source, so no `npm run build` is needed first.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const outArg = args.indexOf('--out');
const outDir = resolve(outArg >= 0 ? args[outArg + 1] : join(repo, 'dist/release'));
const withNode = args.includes('--node');

const started = Date.now();
const gatewayPkg = JSON.parse(readFileSync(join(repo, 'apps/gateway/package.json'), 'utf8'));
const version = gatewayPkg.version;
const target = `${process.platform}-${process.arch}`;
const name = `patchbay-${version}-${target}`;
const stage = join(outDir, name);
rmSync(stage, { recursive: true, force: true });
mkdirSync(join(stage, 'lib/node_modules'), { recursive: true });

/** The workspace packages by name, with their folders. */
const workspaces = new Map();
for (const parent of ['packages', 'apps']) {
  for (const entry of readdirSync(join(repo, parent))) {
    const file = join(repo, parent, entry, 'package.json');
    if (existsSync(file)) workspaces.set(JSON.parse(readFileSync(file, 'utf8')).name, join(repo, parent, entry));
  }
}

/** Where a package folder of the repository goes in the stage. */
function stagePath(dir) {
  const rel = relative(repo, dir);
  const workspace = [...workspaces].find(([, wdir]) => rel === relative(repo, wdir) || rel.startsWith(relative(repo, wdir) + sep));
  if (workspace) {
    const [wname, wdir] = workspace;
    return join(stage, 'lib/node_modules', wname, relative(wdir, dir));
  }
  if (!rel.startsWith('node_modules' + sep)) throw new Error(`release: a dependency outside node_modules: ${dir}`);
  return join(stage, 'lib', rel);
}

/** Node's lookup of `dep` from a package folder: node_modules/dep in it, then in each parent. */
function resolvePackage(dep, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', dep);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dir === repo || dirname(dir) === dir) return undefined;
  }
}

/** What of an external package is never needed at run time (sources of native addons, other platforms' binaries). */
function keep(pkgName, pkgDir, path) {
  const rel = relative(pkgDir, path);
  if (rel === '') return true;
  const parts = rel.split(sep);
  if (parts[0] === 'node_modules') return false; // nested dependencies are staged by the walk, if used
  if (pkgName === 'zeromq') {
    if (['src', 'script', 'vcpkg.json', 'CMakeLists.txt'].includes(parts[0])) return false;
    if (parts[0] === 'build' && parts.length >= 2 && parts[1] !== 'manifest.json' && parts[1] !== process.platform) return false;
    if (parts[0] === 'build' && parts.length >= 3 && parts[2] !== process.arch) return false;
  }
  if (pkgName === '@serialport/bindings-cpp') {
    if (['src', 'binding.gyp'].includes(parts[0])) return false;
    if (parts[0] === 'prebuilds' && parts.length >= 2 && !parts[1].startsWith(`${process.platform}-`)) return false;
    if (parts[0] === 'prebuilds' && parts.length >= 2 && !parts[1].split('-')[1].split('+').includes(process.arch)) return false;
  }
  return true;
}

const staged = new Set();
/** Stages a workspace package (transpiled) or an external one (copied), then its dependencies. */
async function stagePackage(dir) {
  if (staged.has(dir)) return;
  staged.add(dir);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const dest = stagePath(dir);
  if (workspaces.get(pkg.name) === dir) {
    await stageWorkspace(dir, pkg, dest);
  } else {
    cpSync(dir, dest, { recursive: true, filter: (path) => keep(pkg.name, dir, path) });
  }
  const deps = { ...pkg.dependencies, ...pkg.optionalDependencies };
  for (const dep of Object.keys(deps)) {
    const found = resolvePackage(dep, dir);
    if (found === undefined) {
      if (pkg.optionalDependencies?.[dep] !== undefined) continue;
      throw new Error(`release: ${pkg.name} needs ${dep}, which is not installed (run npm ci)`);
    }
    await stagePackage(found);
  }
}

/** src/**\/*.ts to dist/**\/*.js (tests left out), other files of src/ copied beside them, and a package.json without the source condition. */
async function stageWorkspace(dir, pkg, dest) {
  const sources = [];
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.test\.ts$|\.d\.ts$/.test(entry.name)) continue;
      else if (entry.name.endsWith('.ts')) sources.push(path);
      else {
        mkdirSync(dirname(join(dest, 'dist', relative(join(dir, 'src'), path))), { recursive: true });
        copyFileSync(path, join(dest, 'dist', relative(join(dir, 'src'), path)));
      }
    }
  };
  walk(join(dir, 'src'));
  await build({ entryPoints: sources, outdir: join(dest, 'dist'), outbase: join(dir, 'src'), bundle: false, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' });
  const strip = (exports) => {
    if (typeof exports !== 'object' || exports === null) return exports;
    const out = {};
    for (const [key, value] of Object.entries(exports)) {
      if (key === '@patchbay/source' || key === 'types') continue;
      out[key] = strip(value);
    }
    return out;
  };
  const published = { name: pkg.name, version: pkg.version, description: pkg.description, license: pkg.license, type: pkg.type, exports: strip(pkg.exports), bin: pkg.bin, dependencies: pkg.dependencies };
  writeFileSync(join(dest, 'package.json'), JSON.stringify(published, null, 2) + '\n');
}

await stagePackage(workspaces.get('@patchbay/gateway'));

const launcher = `#!/bin/sh
# Patchbay ${version} (${target}): runs the gateway's CLI with Node.js >= 20.11: $PATCHBAY_NODE,
# else the node/ shipped beside bin/ (release built with --node), else the first node on PATH.
self=$0
while [ -h "$self" ]; do
  link=$(readlink "$self")
  case $link in /*) self=$link ;; *) self=$(dirname "$self")/$link ;; esac
done
root=$(cd "$(dirname "$self")/.." && pwd)
node=\${PATCHBAY_NODE:-}
if [ -z "$node" ] && [ -x "$root/node/bin/node" ]; then node=$root/node/bin/node; fi
if [ -z "$node" ]; then node=$(command -v node) || node=; fi
if [ -z "$node" ]; then
  echo "patchbay: Node.js >= 20.11 is required (install it, or set PATCHBAY_NODE)" >&2
  exit 127
fi
# exec: the pid Jeedom records is the gateway's own.
exec "$node" --max-semi-space-size=2 --heap-growing-percent=100 --single-threaded-gc "$root/lib/node_modules/@patchbay/gateway/dist/cli.js" "$@"
`;
mkdirSync(join(stage, 'bin'));
writeFileSync(join(stage, 'bin/patchbay'), launcher);
chmodSync(join(stage, 'bin/patchbay'), 0o755);
if (withNode) {
  mkdirSync(join(stage, 'node/bin'), { recursive: true });
  copyFileSync(process.execPath, join(stage, 'node/bin/node'));
  chmodSync(join(stage, 'node/bin/node'), 0o755);
}
writeFileSync(join(stage, 'VERSION'), `${version}\n`);
writeFileSync(
  join(stage, 'README'),
  `Patchbay ${version} for ${target}, built ${new Date().toISOString()} with Node.js ${process.version}.\n` +
    `Needs Node.js >= 20.11${withNode ? ' (shipped in node/)' : ''}; nothing to build or install.\n\n` +
    '  bin/patchbay --version\n  bin/patchbay run                      # the embedded default: http://127.0.0.1:8080/\n' +
    '  bin/patchbay run --config patchbay.yml\n  bin/patchbay check patchbay.yml\n  bin/patchbay jeedom --socketport ... (started by the Jeedom plugin)\n',
);

const tarball = join(outDir, `${name}.tar.gz`);
execFileSync('tar', ['-czf', tarball, '-C', outDir, '--owner=0', '--group=0', name]);
const hash = createHash('sha256');
await new Promise((resolveHash, reject) => createReadStream(tarball).on('data', (chunk) => hash.update(chunk)).on('end', resolveHash).on('error', reject));
const digest = hash.digest('hex');
writeFileSync(`${tarball}.sha256`, `${digest}  ${basename(tarball)}\n`);
rmSync(stage, { recursive: true, force: true });

const size = statSync(tarball).size;
console.log(`release: ${relative(process.cwd(), tarball)} (${(size / 1048576).toFixed(1)} MiB, ${staged.size} packages, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
console.log(`release: ${relative(process.cwd(), tarball)}.sha256 ${digest}`);
