# syntax=docker/dockerfile:1
# The patchbay gateway. Build: `docker build -t patchbay .`; run: `docker compose up`.
# The build stage runs exactly the README's commands (`npm ci`, then `npm run build`), the
# same ones .ci/run runs; the runtime stage carries only what `node apps/gateway/dist/cli.js` needs.
# `npm run test:docker` builds this file as it is and runs docker-compose.yml against it.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY . .
# zeromq and serialport ship prebuilt addons for linux x64 and arm64 (glibc), so no toolchain is
# needed there. The npm the repository pins (packageManager) is used when the image's differs:
# its `allowScripts` lets those two install.
RUN [ "$(npm --version)" = 11.19.1 ] || npm install -g npm@11.19.1
RUN npm ci
RUN npm run build
# The gateway's production dependencies and each workspace's dist/: development packages
# (TypeScript, vitest, esbuild...), the sources, the tests, the bench and other platforms'
# prebuilt addons stay behind. The runtime stage takes /runtime only.
RUN node scripts/docker/stageRuntime.mjs /runtime

FROM ${NODE_IMAGE} AS runtime
# socat: `patchbay run --serial-sim` bridges the simulated device over a pseudo-terminal pair.
# /data is pre-created so the named volume mounted there starts out owned by `node` (Docker copies
# the image's ownership into a new volume). It also holds the Tracim master socket the peers share.
RUN apt-get update \
 && apt-get install -y --no-install-recommends socat \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown node:node /data
ENV NODE_ENV=production \
    PATCHBAY_HTTP_HOST=0.0.0.0
WORKDIR /app
COPY --from=build /runtime /app
USER node
VOLUME ["/data"]
EXPOSE 8080
# Liveness: the gateway answers /healthz (200 when every endpoint is alive, 503 with the details
# while a host platform is absent). Both mean the process serves; a hang or crash does not.
# bash's /dev/tcp, not a `node -e` fetch: a probe costs about 2 ms instead of starting a 40 MB
# Node.js, so it can run every 2 s and the container is `healthy` within about 2 s of start
# (HEALTHCHECK --start-interval would do this more cheaply, but Docker < 25 rejects it).
HEALTHCHECK --interval=2s --timeout=3s --start-period=30s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n' >&3 && read -r -t 3 proto code rest <&3 && [[ $proto == HTTP/1.* && ( $code == 200 || $code == 503 ) ]]"]
# A small V8 young generation: home-automation traffic never needs the default 16 MB semi-spaces,
# and it keeps the idle gateway with every adapter under 80 MB RSS (PERFORMANCE.md). The old
# generation grows at most 2x its live size between collections: V8's own factor (up to 4x) let
# a start-up's garbage hold the RSS of 1,000 devices at 177 MB, 124 MB with this (bench/scale).
# Garbage collection on each isolate's own thread: V8's helper threads are shared by the whole
# process, so the gateway thread's collections waited behind those of the Comodojo decode
# worker busy with a 12.7 MB request (issue 13.8: 3.2-4.1 ms p99 for the other hosts, 2.0-2.7 ms
# with this); at 10,000 devices it costs no CPU and no RSS (bench/scale, alternating runs).
CMD ["node", "--max-semi-space-size=2", "--heap-growing-percent=100", "--single-threaded-gc", "apps/gateway/dist/cli.js", "run", "--data-dir", "/data"]
