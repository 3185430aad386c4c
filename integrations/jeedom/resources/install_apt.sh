#!/bin/sh
# The plugin's dependency install (Jeedom runs it from dependancy_install(), as root, with the
# progress file as $1): Node.js >= 20.11 if missing, then the Patchbay release, checked against
# its SHA-256 checksum and unpacked into resources/patchbay. Nothing is built on the box: the
# release carries the gateway and its native addons (zeromq, serialport) for this platform.
#   $1  progress file (0..100, removed at the end)
#   $2  optional URL of a release tarball (its checksum at URL.sha256); else resources/dist/
set -u
PROGRESS_FILE=${1:-/tmp/jeedom/patchbay/dependance}
URL=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
DIST=$HERE/dist
TARGET=$HERE/patchbay

progress() { echo "$1" > "$PROGRESS_FILE"; }
fail() {
  echo "ERROR: $*"
  rm -f "$PROGRESS_FILE"
  exit 1
}

touch "$PROGRESS_FILE"
progress 0
echo "== Patchbay: dependency install ($(date))"

node_ok() {
  command -v node > /dev/null 2>&1 || return 1
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 11) ? 0 : 1)'
}
if node_ok; then
  echo "Node.js $(node --version) found"
else
  echo "Node.js >= 20.11 not found: installing it"
  # Jeedom's own installer (Node.js 22) when the core has it, else the distribution's package.
  CORE_NODE_INSTALLER=$HERE/../../../resources/install_nodejs.sh
  if [ -f "$CORE_NODE_INSTALLER" ]; then
    bash "$CORE_NODE_INSTALLER" "$PROGRESS_FILE"
  else
    apt-get update && apt-get install -y nodejs
  fi
  node_ok || fail "Node.js >= 20.11 is required and could not be installed"
fi
progress 30

case "$(uname -m)" in
  x86_64) ARCH=x64 ;;
  aarch64 | arm64) ARCH=arm64 ;;
  armv7l | armv6l) ARCH=arm ;;
  *) ARCH=$(uname -m) ;;
esac
PLATFORM=linux-$ARCH

WORK=$(mktemp -d "$HERE/.install.XXXXXX") || fail "cannot create a temporary directory in $HERE"
trap 'rm -rf "$WORK"' EXIT
if [ -n "$URL" ]; then
  echo "Downloading $URL"
  NAME=$(basename "$URL")
  curl -fsSL -o "$WORK/$NAME" "$URL" || fail "download failed: $URL"
  curl -fsSL -o "$WORK/$NAME.sha256" "$URL.sha256" || fail "download failed: $URL.sha256"
  TARBALL=$WORK/$NAME
else
  TARBALL=$(ls -1 "$DIST"/patchbay-*-"$PLATFORM".tar.gz 2> /dev/null | sort | tail -n 1)
  [ -n "$TARBALL" ] || fail "no Patchbay release for $PLATFORM in $DIST (set a release URL on the plugin's configuration page)"
fi
progress 40

# The checksum file is `sha256sum` output: "<hex>  <file name>".
[ -f "$TARBALL.sha256" ] || fail "no checksum file $TARBALL.sha256"
EXPECTED=$(cut -d ' ' -f 1 < "$TARBALL.sha256" | tr 'A-F' 'a-f')
ACTUAL=$(sha256sum "$TARBALL" | cut -d ' ' -f 1)
[ "$EXPECTED" = "$ACTUAL" ] || fail "checksum mismatch for $(basename "$TARBALL"): expected $EXPECTED, got $ACTUAL"
echo "Checksum OK: $ACTUAL"
progress 50

mkdir "$WORK/unpacked"
tar -xzf "$TARBALL" -C "$WORK/unpacked" || fail "cannot unpack $(basename "$TARBALL")"
# The tarball holds one top-level directory, patchbay-<version>-<platform>/.
NEW=$(find "$WORK/unpacked" -mindepth 1 -maxdepth 1 -type d | head -n 1)
[ -x "$NEW/bin/patchbay" ] || fail "the release has no bin/patchbay"
VERSION=$("$NEW/bin/patchbay" --version) || fail "the unpacked release does not run (bin/patchbay --version failed)"
echo "Patchbay $VERSION unpacked"
echo "$ACTUAL" > "$NEW/.release.sha256"
progress 80

# Swap in place: the old release stays until the new one is complete.
rm -rf "$TARGET.old"
[ -d "$TARGET" ] && mv "$TARGET" "$TARGET.old"
mv "$NEW" "$TARGET" || fail "cannot move the release to $TARGET"
rm -rf "$TARGET.old"
if [ "$(id -u)" = "0" ] && id www-data > /dev/null 2>&1; then
  chown -R www-data:www-data "$TARGET"
fi
progress 100
echo "== Patchbay $VERSION installed in $TARGET ($(date))"
rm -f "$PROGRESS_FILE"
