# syntax=docker/dockerfile:1
# The patchbay gateway. Build: `docker build -t patchbay .`; run: `docker compose up`.
# The build stage runs exactly the README's commands (`npm ci`, then `npm run build`), the
# same ones .ci/run runs; the runtime stage carries only what `node apps/gateway/dist/cli.js` needs.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Toolchain for native modules (serialport, zeromq) in case no prebuilt binary fits, and the
# npm the repository pins (packageManager), whose `allowScripts` lets those two build.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && npm install -g npm@11.19.1
COPY . .
RUN npm ci
RUN npm run build
# Development-only packages (TypeScript, vitest, playwright-core...) stay behind.
RUN npm prune --omit=dev

FROM ${NODE_IMAGE} AS runtime
# socat: `patchbay run --serial-sim` bridges the simulated device over a pseudo-terminal pair.
RUN apt-get update \
 && apt-get install -y --no-install-recommends socat \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PATCHBAY_HTTP_HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/packages ./packages
COPY --from=build /app/apps ./apps
# Pre-created so the named volume mounted there starts out owned by `node` (Docker copies the
# image's ownership into a new volume). It also holds the Tracim master socket the peers share.
RUN mkdir -p /data && chown -R node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
# Liveness: the gateway answers /healthz (200 when every endpoint is alive, 503 with the
# details while a host platform is absent). Both mean the process serves; a hang or crash does not.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(async (r) => { const h = await r.json(); process.exit((r.status === 200 || r.status === 503) && typeof h.status === 'string' ? 0 : 1); }).catch(() => process.exit(1))"]
# A small V8 young generation: home-automation traffic never needs the default 16 MB semi-spaces,
# and it keeps the idle gateway with every adapter under 80 MB RSS (PERFORMANCE.md).
CMD ["node", "--max-semi-space-size=2", "apps/gateway/dist/cli.js", "run", "--data-dir", "/data"]
