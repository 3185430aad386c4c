#!/usr/bin/env bash
# Scaffolds a workspace package: scripts/newPackage.sh DIR NAME "description"
set -euo pipefail
dir=$1 name=$2 desc=$3
mkdir -p "$dir/src"
depth=$(echo "$dir" | awk -F/ '{print NF}')
up=$(printf '../%.0s' $(seq 1 "$depth"))
[ -f "$dir/package.json" ] || cat > "$dir/package.json" <<JSON
{
  "name": "$name",
  "version": "0.1.0",
  "description": "$desc",
  "license": "MIT",
  "type": "module",
  "exports": {
    ".": {
      "@patchbay/source": "./src/index.ts",
      "types": "./dist/index.d.ts",
      "default": "./dist/index.js"
    }
  },
  "files": ["dist"],
  "scripts": {
    "build": "tsc -p tsconfig.build.json",
    "typecheck": "tsc -p tsconfig.json --noEmit",
    "lint": "eslint src",
    "test": "vitest run"
  }
}
JSON
[ -f "$dir/tsconfig.json" ] || cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "${up}tsconfig.base.json",
  "compilerOptions": { "noEmit": true },
  "include": ["src", "test"]
}
JSON
[ -f "$dir/tsconfig.build.json" ] || cat > "$dir/tsconfig.build.json" <<JSON
{
  "extends": "${up}tsconfig.base.json",
  "compilerOptions": { "customConditions": [], "rootDir": "src", "outDir": "dist", "noEmit": false },
  "include": ["src"],
  "exclude": ["src/**/*.test.ts"]
}
JSON
[ -f "$dir/vitest.config.ts" ] || cat > "$dir/vitest.config.ts" <<TS
import { defineProject } from 'vitest/config';
import { sharedProjectConfig } from '${up}vitest.shared.ts';

export default defineProject(sharedProjectConfig());
TS
