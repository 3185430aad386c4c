#!/usr/bin/env bash
# Scaffolds an adapter or driver package in the one package shape (issue 12.4, STYLE.md
# "One adapter package shape"):
#
#   scripts/newPackage.sh <adapter|driver> <name> [--dir DIR] [--description TEXT]
#
#   src/index.ts     the definition only
#   src/config.ts    the zod options schema and its type
#   src/adapter.ts   create + lifecycle (src/driver.ts for a driver)
#   src/internal.ts  the `./internal` entry: codecs and transports for bench/ and test/ only
#   test/conformance.test.ts (adapters; red until its HostPeer is written) or test/driver.test.ts
#   package.json, tsconfig.json, tsconfig.build.json, vitest.config.ts, README.md
#
# Put codecs in src/protocol/ and sockets or serial lines in src/transport/ as they appear.
# DIR defaults to packages/<kind>-<name>; it must not exist. Run `npm install` afterwards so
# the workspace links the new package.
set -euo pipefail

usage() {
  echo "usage: scripts/newPackage.sh <adapter|driver> <name> [--dir DIR] [--description TEXT]" >&2
  exit 2
}

[ $# -ge 2 ] || usage
kind=$1 name=$2
shift 2
dir='' desc=''
while [ $# -gt 0 ]; do
  case $1 in
    --dir) [ $# -ge 2 ] || usage; dir=$2; shift 2 ;;
    --description) [ $# -ge 2 ] || usage; desc=$2; shift 2 ;;
    *) echo "newPackage: unknown option '$1'" >&2; usage ;;
  esac
done
case $kind in
  adapter | driver) ;;
  *) echo "newPackage: the kind must be 'adapter' or 'driver', not '$kind'" >&2; usage ;;
esac
# The name is the definition's `type` and part of the package name: keep it a plain identifier.
if ! [[ $name =~ ^[a-z][a-z0-9]*(-[a-z0-9]+)*$ ]]; then
  echo "newPackage: the name must be lower-case words joined by '-' (e.g. 'my-host'), not '$name'" >&2
  exit 2
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
[ -n "$dir" ] || dir="$repo/packages/$kind-$name"
if [ -e "$dir" ]; then
  echo "newPackage: $dir already exists; nothing written" >&2
  exit 1
fi
[ -n "$desc" ] || desc="The $name $kind"
mkdir -p "$dir/src" "$dir/test"
dir=$(cd "$dir" && pwd)
# tsconfig and vitest.config reach the repository's shared settings by relative path.
up=$(realpath --relative-to="$dir" "$repo")/

# my-host -> myHost (identifiers) and MyHost (types).
camel=$(echo "$name" | sed -E 's/-([a-z0-9])/\U\1/g')
pascal="$(echo "${camel:0:1}" | tr a-z A-Z)${camel:1}"
Kind="$(echo "${kind:0:1}" | tr a-z A-Z)${kind:1}"
package="@patchbay/$kind-$name"

cat > "$dir/package.json" <<JSON
{
  "name": "$package",
  "version": "0.1.0",
  "description": "$desc",
  "license": "MIT",
  "type": "module",
  "exports": {
    ".": {
      "@patchbay/source": "./src/index.ts",
      "types": "./dist/index.d.ts",
      "default": "./dist/index.js"
    },
    "./internal": {
      "@patchbay/source": "./src/internal.ts",
      "types": "./dist/internal.d.ts",
      "default": "./dist/internal.js"
    }
  },
  "files": [
    "dist"
  ],
  "scripts": {
    "build": "tsc -p tsconfig.build.json",
    "typecheck": "tsc -p tsconfig.json --noEmit",
    "lint": "eslint .",
    "test": "vitest run"
  },
  "dependencies": {
    "@patchbay/core": "0.1.0",
    "zod": "^4.1.0"
  },
  "devDependencies": {
    "@patchbay/testing": "0.1.0"
  }
}
JSON

cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "${up}tsconfig.base.json",
  "compilerOptions": { "noEmit": true },
  "include": ["src", "test"]
}
JSON

cat > "$dir/tsconfig.build.json" <<JSON
{
  "extends": "${up}tsconfig.base.json",
  "compilerOptions": { "customConditions": [], "rootDir": "src", "outDir": "dist", "noEmit": false },
  "include": ["src"],
  "exclude": ["src/**/*.test.ts"]
}
JSON

cat > "$dir/vitest.config.ts" <<TS
import { defineProject } from 'vitest/config';
import { sharedProjectConfig } from '${up}vitest.shared.ts';

export default defineProject(sharedProjectConfig());
TS

cat > "$dir/README.md" <<MD
# $package

$Kind \`$name\`: $desc.

- \`src/index.ts\`: the definition only; \`src/config.ts\`: its options;
  \`src/$kind.ts\`: \`create\` and the lifecycle (nothing runs before \`start()\`; \`stop()\` undoes it).
- \`src/protocol/\`: codecs; \`src/transport/\`: sockets, serial lines (a factory per connection).
- \`src/internal.ts\` (\`$package/internal\`): what bench/ and test/ reach into; not a stable surface.
MD

cat > "$dir/src/config.ts" <<TS
import { z } from 'zod';

/** Options of the \`$name\` $kind. */
export const ${camel}Config = z
  .object({
    /** Host to talk to or interface to bind. */
    host: z.string().default('127.0.0.1'),
    /** Its TCP port; 0 picks a free one (tests). */
    port: z.number().int().min(0).max(65_535).default(0),
  })
  .strict();

/** Validated options of the \`$name\` $kind. */
export type ${pascal}Config = z.output<typeof ${camel}Config>;
TS

if [ "$kind" = adapter ]; then
  cat > "$dir/src/index.ts" <<TS
/**
 * $package: $desc. Codecs and transports for bench and tests:
 * \`$package/internal\`.
 */
import { defineAdapter } from '@patchbay/core';
import { create${pascal}Adapter } from './adapter.js';
import { ${camel}Config } from './config.js';

export type { ${pascal}Adapter } from './adapter.js';
export { ${camel}Config, type ${pascal}Config } from './config.js';

/** The \`$name\` adapter definition. */
const ${camel}Adapter = defineAdapter({
  type: '$name',
  description: '$desc',
  config: ${camel}Config,
  create: create${pascal}Adapter,
});

export default ${camel}Adapter;
TS

  cat > "$dir/src/adapter.ts" <<TS
import type { Adapter, HostContext, OutboundEvent } from '@patchbay/core';
import type { ${pascal}Config } from './config.js';

/** The \`$name\` host as tests see it: the core's Adapter (add what they need, such as the bound port). */
export type ${pascal}Adapter = Adapter;

/**
 * Makes the \`$name\` host. Nothing happens here: \`start()\` listens or connects (src/transport/),
 * then gives the host \`ctx.snapshot()\` and reports \`ctx.connection(...)\`; an incoming command
 * goes to \`ctx.submit(...)\`, which always resolves with exactly one reply.
 */
export function create${pascal}Adapter(config: ${pascal}Config, ctx: HostContext): ${pascal}Adapter {
  return {
    async start() {
      ctx.logger.info(\`$name: starting on \${config.host}:\${config.port}\`);
    },
    async stop() {
      // Undo everything start() did, so a restart begins from scratch.
    },
    async deliver(_event: OutboundEvent) {
      // Encode the event in the host's protocol (src/protocol/) and send it. Throwing keeps it
      // in the outbox for a retry.
    },
  };
}
TS

  cat > "$dir/src/internal.ts" <<TS
/**
 * \`$package/internal\`: codecs and transports for bench/ and tests only. Not a stable
 * surface; the public one is the package's \`"."\` entry.
 */
export { create${pascal}Adapter } from './adapter.js';
TS

  cat > "$dir/test/conformance.test.ts" <<TS
import { describeHostAdapterConformance, type HostPeer } from '@patchbay/testing';
import ${camel}Adapter from '../src/index.js';

// The shared host adapter suite (README "Writing an adapter"): start/stop twice, snapshot on
// connect, live state, nothing lost while the host is down, the reply only to the asker, no
// echo. It fails until connect() returns a HostPeer speaking this adapter's protocol: write it first.
describeHostAdapterConformance('$name', {
  definition: ${camel}Adapter,
  options: () => ({ port: 0 }),
  connect(): Promise<HostPeer> {
    return Promise.reject(new Error('$name - no HostPeer yet: write a client of this protocol (waitForState, command, goDown/comeBack, close)'));
  },
});
TS
else
  cat > "$dir/src/index.ts" <<TS
/**
 * $package: $desc. Codecs and transports for bench and tests:
 * \`$package/internal\`.
 */
import { defineDriver } from '@patchbay/core';
import { ${camel}Config } from './config.js';
import { create${pascal}Driver } from './driver.js';

export { ${camel}Config, type ${pascal}Config } from './config.js';

/** The \`$name\` driver definition. */
const ${camel}Driver = defineDriver({
  type: '$name',
  description: '$desc',
  config: ${camel}Config,
  create: create${pascal}Driver,
});

export default ${camel}Driver;
TS

  cat > "$dir/src/driver.ts" <<TS
import type { CommandEvent, Driver, DriverContext, ReplyInit } from '@patchbay/core';
import type { ${pascal}Config } from './config.js';

/**
 * Makes the \`$name\` driver. Nothing happens here: \`start()\` opens the line (src/transport/),
 * says what the device is with \`ctx.describe(...)\` and reports values with \`ctx.emit(...)\`. A
 * lost line is a status and a reconnect, never a throw into the core.
 */
export function create${pascal}Driver(config: ${pascal}Config, ctx: DriverContext): Driver {
  return {
    async start() {
      ctx.logger.info(\`$name: starting on \${config.host}:\${config.port}\`);
    },
    async stop() {
      // Undo everything start() did, so a restart begins from scratch.
    },
    send(command: CommandEvent): ReplyInit {
      // Encode the command (src/protocol/), send it and answer with the device's reply.
      return { ok: false, error: \`$name: \${command.channel ?? command.action ?? 'the command'} is not supported yet\` };
    },
  };
}
TS

  cat > "$dir/src/internal.ts" <<TS
/**
 * \`$package/internal\`: codecs and transports for bench/ and tests only. Not a stable
 * surface; the public one is the package's \`"."\` entry.
 */
export { create${pascal}Driver } from './driver.js';
TS

  cat > "$dir/test/driver.test.ts" <<TS
import { describe, expect, it } from 'vitest';
import ${camel}Driver from '../src/index.js';

describe('$name - driver', () => {
  it('$name - options have their defaults and unknown keys are refused', () => {
    expect(${camel}Driver.config.parse({})).toEqual({ host: '127.0.0.1', port: 0 });
    expect(${camel}Driver.config.safeParse({ nope: 1 }).success).toBe(false);
  });
});
TS
fi

echo "newPackage: wrote $package in $dir (run npm install to link it into the workspace)"
