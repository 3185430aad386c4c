#!/usr/bin/env bash
# `npm run test:docker`: build the Dockerfile as it is and run docker-compose.yml as a user would,
# on a Docker engine of its own (README, "Docker"; issue 21). Run by .ci/run, as root.
#
#   1. A dockerd from Debian's docker.io (overlay2 where it mounts, else vfs; iptables off), its
#      data root, socket and pid in a temporary directory. It is stopped by its pid at the end,
#      whatever happens, and nothing of it stays running or mounted.
#   2. Every image the Dockerfile and docker-compose.yml name is pulled, or, where no registry is
#      reachable, built locally as a stand-in: debian:bookworm-slim from debootstrap, the
#      Dockerfile's NODE_IMAGE from it with this machine's Node.js and npm and its extra CAs,
#      the rest from scripts/docker/standins/<image>.Dockerfile. The stand-ins are for CI only.
#   3. The project's images from their own Dockerfiles (`build:` in the compose file), unchanged.
#   4. `up`, `--profile peers up`, `down`, a second `up`, and a user's config (checks below), with
#      the figures: image size above its base, container start to healthy, idle RSS.
#
# Environment: PATCHBAY_DOCKER_DIR=DIR keeps the engine's data root (and so its images) in DIR
# between runs instead of a fresh temporary directory; PATCHBAY_DOCKER_STORAGE=vfs|overlay2
# forces the storage driver; DEBIAN_MIRROR for debootstrap.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
STARTED=$(date +%s.%N)
PROJECT=patchbaytest
VOLUME=${PROJECT}_patchbay-data
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

elapsed() { echo "$(date +%s.%N) $STARTED" | awk '{ printf "%.1f", $1 - $2 }'; }
log() { printf '[test:docker %6ss] %s\n' "$(elapsed)" "$*"; }
FIGURES=()
figure() { FIGURES+=("$1"); log "figure: $1"; }
die() {
  printf '\ntest:docker: FAIL: %s\n' "$*" >&2
  exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (it starts its own dockerd): run it as .ci/run does, or with sudo"
for tool in dockerd docker docker-compose debootstrap curl python3 timeout; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install docker.io docker-compose debootstrap curl python3)"
done

if [ -n "${PATCHBAY_DOCKER_DIR:-}" ]; then
  WORK=$PATCHBAY_DOCKER_DIR
  KEEP=1
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d /tmp/patchbay-docker.XXXXXX)
  KEEP=0
fi
ENGINE=$WORK/engine
RUN=$WORK/run
rm -rf "$RUN"
mkdir -p "$ENGINE" "$RUN"
export DOCKER_HOST=unix://$ENGINE/docker.sock
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
# What compose interpolates: ports of our own, so nothing on this machine is in the way.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export PATCHBAY_PORT=$(free_port) PATCHBAY_MQTT_PUBLISH_PORT=$(free_port)
unset PATCHBAY_BIND PATCHBAY_MQTT_BIND PATCHBAY_JEEDOM_APIKEY PATCHBAY_JEEDOM_CALLBACK PATCHBAY_MQTT_URL PATCHBAY_CONFIG

DOCKERD_PID=
ENGINE_TMPFS=0
gateway_build=
stop_engine() {
  local rc=$?
  trap - EXIT INT TERM
  # A build still running in the background (this run failed meanwhile): its `timeout` passes the
  # signal on to `docker build`.
  if [ -n "$gateway_build" ] && kill -0 "$gateway_build" 2>/dev/null; then
    pkill -TERM -P "$gateway_build" 2>/dev/null || true
    kill -TERM "$gateway_build" 2>/dev/null || true
    wait "$gateway_build" 2>/dev/null || true
  fi
  if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    if [ "$rc" != 0 ]; then
      for c in $(docker ps -aq 2>/dev/null); do
        echo "--- docker logs $(docker inspect -f '{{.Name}}' "$c" 2>/dev/null) (last 30 lines)" >&2
        docker logs --tail 30 "$c" 2>&1 | sed 's/^/    /' >&2 || true
      done
    fi
    timeout 60 docker-compose -p "$PROJECT" -f docker-compose.yml --profile peers down -v --remove-orphans >/dev/null 2>&1 || true
    # The engine's containerd is its child; it stops with it.
    local containerd_pid
    containerd_pid=$(cat "$ENGINE/exec/containerd/containerd.pid" 2>/dev/null || true)
    kill -TERM "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DOCKERD_PID" 2>/dev/null || true
    if [ -n "$containerd_pid" ] && kill -0 "$containerd_pid" 2>/dev/null; then
      for _ in $(seq 100); do kill -0 "$containerd_pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$containerd_pid" 2>/dev/null || true
    fi
    wait "$DOCKERD_PID" 2>/dev/null || true
  fi
  if [ "$rc" != 0 ] && [ -f "$ENGINE/dockerd.log" ]; then
    echo "--- dockerd log (last 5 lines)" >&2
    tail -5 "$ENGINE/dockerd.log" | sed 's/^/    /' >&2
  fi
  # dockerd leaves its default network namespace mounted under its exec root, an interrupted
  # debootstrap its /proc; deepest first, the tmpfs last.
  awk -v root="$WORK/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do umount "$m" 2>/dev/null || true; done
  if [ "$ENGINE_TMPFS" = 1 ]; then umount "$ENGINE" 2>/dev/null || umount -l "$ENGINE" 2>/dev/null || true; fi
  [ "$KEEP" = 1 ] || rm -rf "$WORK"
  if [ "$rc" = 0 ]; then
    log "PASS in $(elapsed) s; engine stopped"
  else
    echo "test:docker: failed after $(elapsed) s; engine stopped" >&2
  fi
  exit "$rc"
}
trap stop_engine EXIT
trap 'exit 130' INT TERM

# Polls `cmd...` until it succeeds; dies with `what` after `seconds`.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$(($(date +%s) + seconds))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || die "$what: not within ${seconds} s"
    sleep 0.2
  done
}

# --- 1. the engine -----------------------------------------------------------------------------
# vfs needs nothing of the kernel but copies every layer in full, so a build on it takes minutes.
# overlay2, what users' engines run, is used where this kernel and filesystem can mount it.
# PATCHBAY_DOCKER_STORAGE=vfs|overlay2 chooses.
storage_driver() {
  if [ -n "${PATCHBAY_DOCKER_STORAGE:-}" ]; then
    echo "$PATCHBAY_DOCKER_STORAGE"
    return
  fi
  local probe=$ENGINE/overlay-probe driver=vfs
  mkdir -p "$probe/lower" "$probe/upper" "$probe/work" "$probe/merged"
  if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" "$probe/merged" 2>/dev/null; then
    umount "$probe/merged"
    driver=overlay2
  fi
  rm -rf "$probe"
  echo "$driver"
}
# A fresh engine's data root on a tmpfs: deleting a used data root from disk takes a minute on a
# busy machine, unmounting a tmpfs none. Only with overlay2: vfs copies every layer in full and
# could fill it. About 2 GB of memory while the test runs.
ENGINE_TMPFS=0
if [ "$KEEP" = 0 ] && [ -z "${PATCHBAY_DOCKER_STORAGE:-}" ] && mount -t tmpfs -o size=8g,mode=0700 patchbay-docker "$ENGINE"; then
  ENGINE_TMPFS=1
fi
STORAGE=$(storage_driver)
if [ "$ENGINE_TMPFS" = 1 ] && [ "$STORAGE" != overlay2 ]; then
  umount "$ENGINE"
  ENGINE_TMPFS=0
  STORAGE=$(storage_driver)
fi
log "starting dockerd ($STORAGE, iptables off) in $ENGINE$([ "$ENGINE_TMPFS" = 1 ] && echo ' (tmpfs)')"
rm -f "$ENGINE/docker.sock" "$ENGINE/docker.pid"
dockerd --storage-driver="$STORAGE" --iptables=false --data-root "$ENGINE/root" --exec-root "$ENGINE/exec" \
  --pidfile "$ENGINE/docker.pid" --host "$DOCKER_HOST" >"$ENGINE/dockerd.log" 2>&1 &
DOCKERD_PID=$!
wait_for 60 "dockerd answering on $DOCKER_HOST (see $ENGINE/dockerd.log)" docker info
log "dockerd $(docker version -f '{{.Server.Version}}') up, pid $DOCKERD_PID"

have_image() { docker image inspect "$1" >/dev/null 2>&1; }
# A registry pull, bounded: where none is reachable this fails in seconds rather than hanging.
try_pull() { timeout 60 docker pull -q "$1" >/dev/null 2>&1; }
build_log() { echo "$RUN/build-$(echo "$1" | tr -c 'a-zA-Z0-9\n' '_').log"; }
# docker build with its output in a log file; on failure, the end of it and a clear message.
build() {
  local tag=$1 file=$2 context=$3 started
  started=$(date +%s)
  # Each line stamped with the seconds since the build started, to see which step costs what
  # (pipefail: the build's own status decides).
  if ! timeout 900 docker build --network host -t "$tag" -f "$file" "$context" 2>&1 |
    while IFS= read -r line; do printf '%4d %s\n' "$(($(date +%s) - started))" "$line"; done >"$(build_log "$tag")"; then
    tail -40 "$(build_log "$tag")" >&2
    die "docker build of $tag from $file failed (above)"
  fi
  log "built $tag from $file in $(($(date +%s) - started)) s"
}

# --- 2. base images ----------------------------------------------------------------------------
NODE_IMAGE=$(sed -n 's/^ARG NODE_IMAGE=//p' Dockerfile)
[ -n "$NODE_IMAGE" ] || die "the Dockerfile has no 'ARG NODE_IMAGE=<image>' line: the test builds that base"
DEBIAN_IMAGE=debian:bookworm-slim

# The machine's extra certificate authorities (a TLS-intercepting proxy's): what NODE_EXTRA_CA_CERTS
# names, unless it is the system bundle itself, and /usr/local/share/ca-certificates.
extra_cas() {
  local f
  for f in /usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt; do
    [ -f "$f" ] && cat "$f"
  done
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ] &&
    [ "$(readlink -f "$NODE_EXTRA_CA_CERTS")" != "$(readlink -f /etc/ssl/certs/ca-certificates.crt)" ]; then
    cat "$NODE_EXTRA_CA_CERTS"
  fi
  return 0
}

debian_standin() {
  local rootfs=$WORK/rootfs started
  started=$(date +%s)
  log "no $DEBIAN_IMAGE to pull: debootstrap --variant=minbase bookworm (stand-in, CI only)"
  rm -rf "$rootfs"
  timeout 600 debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$RUN/debootstrap.log" 2>&1 ||
    { tail -20 "$RUN/debootstrap.log" >&2; die "debootstrap failed (mirror $MIRROR; set DEBIAN_MIRROR)"; }
  # As the official -slim image: no docs, man pages or locales, no apt caches.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/info/*
EOF
  printf 'APT::Install-Recommends "false";\nDir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n' >"$rootfs/etc/apt/apt.conf.d/docker-clean"
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb http://deb.debian.org/debian-security bookworm-security main\n' "$MIRROR" "$MIRROR" >"$rootfs/etc/apt/sources.list"
  find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/info/* \
    "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
  mkdir -p "$rootfs/etc/ssl/certs" "$rootfs/usr/local/share/ca-certificates"
  extra_cas >"$rootfs/etc/ssl/certs/extra-ca.pem"
  # Also where update-ca-certificates looks, should an image install ca-certificates on top.
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["bash"]' \
    - "$DEBIAN_IMAGE" >/dev/null
  rm -rf "$rootfs"
  log "imported $DEBIAN_IMAGE stand-in in $(($(date +%s) - started)) s, trusting $(extra_cas | grep -c 'BEGIN CERT' || true) extra CAs"
}

node_standin() {
  local context=$RUN/node-context node npm_dir
  node=$(command -v node) || die "no node on this machine to put in the $NODE_IMAGE stand-in"
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  [ -f "$npm_dir/package.json" ] || die "cannot find npm's folder (from $(command -v npm))"
  "$node" -e 'process.exit(Number(process.versions.node.split(".")[0]) === 20 ? 0 : 1)' ||
    die "this machine's Node.js is $("$node" --version): the $NODE_IMAGE stand-in needs Node.js 20"
  rm -rf "$context"
  mkdir -p "$context"
  cp "$(readlink -f "$node")" "$context/node"
  cp -a "$npm_dir" "$context/npm"
  build "$NODE_IMAGE" scripts/docker/standins/node.Dockerfile "$context"
  rm -rf "$context"
}

# Every stand-in starts from the debian one, so it comes first.
log "base images $DEBIAN_IMAGE and $NODE_IMAGE: pulled, else local stand-ins"
# Kept from an earlier run when PATCHBAY_DOCKER_DIR is set: debootstrap is the slowest step.
have_image "$DEBIAN_IMAGE" || try_pull "$DEBIAN_IMAGE" || debian_standin

# --- 3. the project's images, and stand-ins for the others compose names ---------------------
# One line per service of the compose file (every profile): service, image, build context,
# dockerfile; the one built from the root Dockerfile first, so that its build starts at once.
services=$(docker-compose -f docker-compose.yml --profile peers config | python3 -c '
import os, sys, yaml
rows = []
for name, s in yaml.safe_load(sys.stdin)["services"].items():
    b = s.get("build") or {}
    b = {"context": b} if isinstance(b, str) else b
    rows.append((name, s.get("image", "-"), b.get("context", "-"), b.get("dockerfile", "Dockerfile")))
rows.sort(key=lambda r: (r[2], r[3]) != (os.getcwd(), "Dockerfile"))
for r in rows:
    print(*r)
')
# The gateway's image (the root Dockerfile, on NODE_IMAGE) is built in the background while the
# others are: it is CPU-bound (npm run build), they mostly wait on apt downloads.
declare -A done_images=()
while read -r service image context dockerfile; do
  [ "$image" != - ] || die "service $service has no image: name: the test needs one to build or stand in"
  [ -z "${done_images[$image]:-}" ] || continue
  done_images[$image]=1
  if [ "$context" = "$REPO" ] && [ "$dockerfile" = Dockerfile ]; then
    { try_pull "$NODE_IMAGE" || node_standin; } && build "$image" "$context/$dockerfile" "$context" &
    gateway_build=$!
  elif [ "$context" != - ]; then
    build "$image" "$context/$dockerfile" "$context"
  elif ! try_pull "$image"; then
    standin=scripts/docker/standins/${image%%:*}.Dockerfile
    [ -f "$standin" ] || die "service $service: $image cannot be pulled and there is no $standin to stand in for it"
    build "$image" "$standin" scripts/docker/standins
  fi
done <<<"$services"
[ -n "$gateway_build" ] || die "no service of docker-compose.yml builds the root Dockerfile"
wait "$gateway_build" || die "the gateway's image did not build (above)"

size() { docker image inspect -f '{{.Size}}' "$1"; }
ADDED_MB=$((($(size patchbay:latest) - $(size "$NODE_IMAGE")) / 1000000))
figure "image size above $NODE_IMAGE: ${ADDED_MB} MB (patchbay:latest $(($(size patchbay:latest) / 1000000)) MB)"
[ "$ADDED_MB" -le 120 ] || die "the runtime layers add ${ADDED_MB} MB to $NODE_IMAGE; the target is 120 MB or less"

# --- 4. compose as a user runs it --------------------------------------------------------------
COMPOSE_FILES=(-f docker-compose.yml)
compose() { timeout 180 docker-compose -p "$PROJECT" "${COMPOSE_FILES[@]}" "$@"; }
cid() { compose ps -q "$1"; }
health() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$1"; }
GRACE=$(docker-compose -f docker-compose.yml config | python3 -c 'import sys, yaml; print(yaml.safe_load(sys.stdin)["services"]["gateway"].get("stop_grace_period", "10s"))')
GRACE_S=$(python3 -c "import re; m = re.fullmatch(r'(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?', '$GRACE'); print(int(m.group(1) or 0) * 60 + float(m.group(2) or 0))")

# Waits for the gateway to be healthy and prints the seconds from container start to healthy:
# the end of the first passing health probe, from the engine's own timestamps.
wait_healthy() {
  local gw=$1 deadline=$(($(date +%s) + 90)) status
  while :; do
    status=$(health "$gw")
    [ "$status" = healthy ] && break
    [ "$(docker inspect -f '{{.State.Running}}' "$gw")" = true ] || die "the gateway container exited (code $(docker inspect -f '{{.State.ExitCode}}' "$gw")) before it was healthy"
    [ "$status" != unhealthy ] || die "the gateway container is unhealthy"
    [ "$(date +%s)" -lt "$deadline" ] || die "the gateway container is not healthy within 90 s (status $status)"
    sleep 0.2
  done
  docker inspect "$gw" | python3 -c '
import json, sys
from datetime import datetime
def t(s):
    s = s.rstrip("Z")
    head, _, frac = s.partition(".")
    return datetime.fromisoformat(head).timestamp() + float("0." + (frac or "0")[:6])
st = json.load(sys.stdin)[0]["State"]
ok = [p for p in st["Health"]["Log"] if p["ExitCode"] == 0]
print("%.2f" % (t(ok[0]["End"]) - t(st["StartedAt"])))'
}

healthz() { curl -sS --max-time 5 -o "$RUN/healthz.json" -w '%{http_code}' "http://127.0.0.1:$PATCHBAY_PORT/healthz"; }
json() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); $1" "$RUN/healthz.json"; }
# One message on the Jeedom command socket, from inside the gateway's network namespace, with
# the apikey the gateway generated into the volume (compose has no default secret).
jeedom_command() {
  docker exec "$1" node -e '
    const key = require("fs").readFileSync("/data/jeedom.apikey", "utf8").trim();
    const s = require("net").connect(55009, "127.0.0.1", () => s.end(JSON.stringify({ apikey: key, action: "command", device: "thermo1", channel: "relay", value: process.argv[2] === "on", id: process.argv[1] })));
    s.on("error", (e) => { console.error("jeedom socket: " + e.message); process.exit(1); });
    s.resume();' "$2" "$3"
}

log "1/4 up: the gateway and mosquitto on the embedded default"
compose up -d --no-build >"$RUN/up1.log" 2>&1 || { cat "$RUN/up1.log" >&2; die "docker-compose up failed"; }
GW=$(cid gateway)
HEALTHY_S=$(wait_healthy "$GW")
figure "container start to healthy: ${HEALTHY_S} s"
python3 -c "import sys; sys.exit(0 if float('$HEALTHY_S') <= 3 else 1)" || log "warning: healthy after ${HEALTHY_S} s, above the 3 s target (a loaded machine?)"

code=$(healthz) || die "/healthz through the published port 127.0.0.1:$PATCHBAY_PORT did not answer"
[ "$code" = 200 ] || [ "$code" = 503 ] || die "/healthz answered HTTP $code"
json 'sys.exit(0 if isinstance(d.get("status"), str) else 1)' || die "/healthz did not answer JSON with a status: $(head -c 300 "$RUN/healthz.json")"
log "/healthz answers through 127.0.0.1:$PATCHBAY_PORT (HTTP $code, status $(json 'print(d["status"])'))"

published=$(docker port "$GW" 8080/tcp)
[ "$published" = "127.0.0.1:$PATCHBAY_PORT" ] || die "port 8080 is published on '$published', not on 127.0.0.1 only"
outside=$({ ip -4 route get 1.1.1.1 2>/dev/null || true; } | sed -n 's/.* src \([0-9.]*\).*/\1/p')
if [ -n "$outside" ]; then
  ! curl -s --max-time 3 -o /dev/null "http://$outside:$PATCHBAY_PORT/healthz" || die "the gateway answers on $outside:$PATCHBAY_PORT, not only on 127.0.0.1"
  log "published on 127.0.0.1 only: $outside:$PATCHBAY_PORT does not answer"
fi

# The gateway listens on 0.0.0.0 inside the container, so the ws host (commands) needs a token,
# which it generated into the volume (0600).
upgrade() { curl -s --max-time 3 -o /dev/null -w '%{http_code}' -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$@" || true; }
[ "$(upgrade "http://127.0.0.1:$PATCHBAY_PORT/ws")" = 401 ] || die "a ws client without a token was not refused with 401"
token_mode=$(docker exec "$GW" stat -c %a /data/ws.token) || die "no generated token in /data/ws.token"
[ "$token_mode" = 600 ] || die "/data/ws.token has mode $token_mode, not 600"
[ "$(upgrade -H "Authorization: Bearer $(docker exec "$GW" cat /data/ws.token)" "http://127.0.0.1:$PATCHBAY_PORT/ws")" = 101 ] ||
  die "a ws client with the generated token was not let in"
log "commands need a token off loopback: ws without one gets 401, with /data/ws.token (0600) 101"

MQ=$(cid mosquitto)
temp=$(docker exec "$MQ" timeout 30 mosquitto_sub -t patchbay/thermo1/temperature -C 1) || die "mosquitto has no patchbay/thermo1/temperature: the gateway does not use the compose broker"
docker exec "$MQ" mosquitto_pub -t patchbay/thermo1/relay/set -m ON -q 1 || die "mosquitto_pub to the relay failed"
wait_for 30 "the relay switched ON through mosquitto" sh -c "docker exec $MQ timeout 5 mosquitto_sub -t patchbay/thermo1/relay -C 1 | grep -qx ON"
log "MQTT through the compose broker: temperature $temp, relay switched by mosquitto_pub"

# Jeedom's callback peer is not running (no peers profile): the reply to this command waits for it
# in the journal, across the down and up below.
QUEUED_ID=queued-$$
jeedom_command "$GW" "$QUEUED_ID" off || die "the Jeedom command socket refused a command"
wait_for 30 "the Jeedom host's queue holding the reply for the absent callback" sh -c \
  "curl -s --max-time 3 http://127.0.0.1:$PATCHBAY_PORT/healthz | python3 -c 'import json, sys; h = json.load(sys.stdin); sys.exit(0 if any(x.get(\"id\") == \"jeedom\" and x.get(\"queued\", 0) > 0 for x in h.get(\"hosts\", [])) else 1)'"
log "a command on the Jeedom socket; its reply is queued for the absent callback"

RSS_KB=$(docker exec "$GW" sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/1/status)
figure "idle RSS in the container: $((RSS_KB / 1024)) MB (pid 1, node, every adapter running)"

log "2/4 down: the gateway drains and exits 0 within stop_grace_period ($GRACE)"
docker wait "$GW" >"$RUN/exit1" 2>&1 &
waiter=$!
docker logs -f "$GW" >"$RUN/gateway1.log" 2>&1 &
logger=$!
down_started=$(date +%s.%N)
compose down >"$RUN/down1.log" 2>&1 || { cat "$RUN/down1.log" >&2; die "docker-compose down failed"; }
wait "$waiter" || true
wait "$logger" || true
DOWN_S=$(echo "$(date +%s.%N) $down_started" | awk '{ printf "%.1f", $1 - $2 }')
[ "$(cat "$RUN/exit1")" = 0 ] || { tail -20 "$RUN/gateway1.log" >&2; die "the gateway exited with code $(cat "$RUN/exit1") on down, not 0"; }
python3 -c "import sys; sys.exit(0 if $DOWN_S <= $GRACE_S else 1)" || die "down took $DOWN_S s, beyond stop_grace_period ($GRACE)"
log "gateway exited 0; down took $DOWN_S s"
docker volume inspect "$VOLUME" >/dev/null || die "down removed the data volume $VOLUME"
docker run --rm --network none -v "$VOLUME:/data:ro" --entrypoint sh patchbay:latest -c 'find /data -path "*journal*" -type f -size +0 | grep -q .' ||
  die "no journal in the volume after down"

log "3/4 --profile peers up: the journal resumes, each peer receives the state and gets a command's reply"
compose --profile peers up -d --no-build >"$RUN/up2.log" 2>&1 || { cat "$RUN/up2.log" >&2; die "docker-compose --profile peers up failed"; }
GW=$(cid gateway)
HEALTHY2_S=$(wait_healthy "$GW")
log "healthy again after ${HEALTHY2_S} s"
if docker logs "$GW" 2>&1 | grep -E 'JOURNAL_CORRUPT|corrupt' >&2; then die "the journal was not intact after down"; fi
peer_logs() { docker logs "$(cid "$1")" 2>&1; }
# A reply to the Jeedom command sent before down reaches the callback peer now: nothing was lost.
jeedom_reply() { peer_logs jeedom-peer | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("method") == "POST" and isinstance(r.get("decoded"), dict):
        rep = (r["decoded"].get("replies") or {}).get(sys.argv[1])
        if rep is not None:
            sys.exit(0 if rep.get("ok") else 2)
sys.exit(1)' "$1"; }
wait_for 60 "the Jeedom peer receiving the reply queued before down ($QUEUED_ID)" jeedom_reply "$QUEUED_ID"
log "jeedom: the reply queued before down arrived after up (journal resumed, nothing lost)"

received() {
  case $1 in
    jeedom-peer) peer_logs jeedom-peer | grep -q '"thermo1"' ;;
    tracim-peer) peer_logs tracim-peer | grep -q 'device.modified.state' ;;
    domogik-peer) peer_logs domogik-peer | grep '"client.sensor"' | grep -q '"pub"' ;;
    comodojo-peer) peer_logs comodojo-peer | grep -q '"temperature"' ;;
  esac
}
for peer in jeedom-peer tracim-peer domogik-peer comodojo-peer; do
  wait_for 60 "$peer receiving the simulated device's state" received "$peer"
done
log "every peer (Jeedom, Tracim, Domogik, Comodojo) receives thermo1's state"

jeedom_command "$GW" "cmd-jeedom-$$" on || die "the Jeedom command socket refused a command"
wait_for 30 "the Jeedom peer receiving the reply to its command" jeedom_reply "cmd-jeedom-$$"
log "jeedom: a command on the socket, its reply posted to the callback peer"
for mode in tracim domogik; do
  out=$(docker exec -i "$(cid "$mode-peer")" python3 - "$mode" "cmd-$mode-$$" <scripts/docker/peerCommand.py) || die "$mode peer: no reply to its command ($out)"
  case $mode in
    tracim) echo "$out" | grep -q '"ok": true' || die "tracim peer: the command failed: $out" ;;
    domogik) echo "$out" | grep -q '"status": true' || die "domogik peer: the command failed: $out" ;;
  esac
  log "$mode: a command from the peer, and its reply"
done
out=$(docker exec "$(cid comodojo-peer)" php comodojo/client.php tcp://127.0.0.1:10042 device.command '{"device": "thermo1", "channel": "relay", "value": false}') ||
  die "comodojo peer: device.command failed: $out"
echo "$out" | grep -q '"result"' || die "comodojo peer: device.command got no result: $out"
log "a command from each peer gets its reply (jeedom callback, tracim patchbay_reply, domogik client.cmd.result, comodojo result)"

log "4/4 a config of the user's own, mounted and named by PATCHBAY_CONFIG"
compose --profile peers down >"$RUN/down2.log" 2>&1 || { cat "$RUN/down2.log" >&2; die "docker-compose down failed"; }
mkdir -p "$RUN/user"
cat >"$RUN/user/patchbay.yml" <<'EOF'
devices:
  - { id: user-thermo, driver: sim, options: { interval: 500 } }
hosts:
  - { id: ws, adapter: ws }
EOF
chmod 644 "$RUN/user/patchbay.yml"
cat >"$RUN/user/override.yml" <<EOF
services:
  gateway:
    environment:
      PATCHBAY_CONFIG: /config/patchbay.yml
    volumes:
      - $RUN/user/patchbay.yml:/config/patchbay.yml:ro
EOF
COMPOSE_FILES=(-f docker-compose.yml -f "$RUN/user/override.yml")
compose up -d --no-build gateway >"$RUN/up3.log" 2>&1 || { cat "$RUN/up3.log" >&2; die "docker-compose up with the user's config failed"; }
GW=$(cid gateway)
wait_healthy "$GW" >/dev/null
code=$(healthz) || die "/healthz did not answer with the user's config"
json 'sys.exit(0 if "user-thermo" in json.dumps(d) and "thermo1" not in json.dumps(d) else 1)' ||
  die "/healthz does not show the user's device user-thermo alone: the mounted config was not used"
log "the mounted config is used: /healthz shows user-thermo only"

echo
echo "test:docker figures ($(date -u +%Y-%m-%d), dockerd $(docker version -f '{{.Server.Version}}'), $STORAGE):"
for f in "${FIGURES[@]}"; do echo "  - $f"; done
echo "  - total wall time: $(elapsed) s"
