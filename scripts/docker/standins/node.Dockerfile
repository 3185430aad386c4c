# CI stand-in for node:20-bookworm-slim, for `npm run test:docker` where no image registry is
# reachable: the local debian:bookworm-slim stand-in plus this machine's Node.js and npm, laid out
# as the official image (/usr/local/bin/node, user `node` uid 1000). Built from a context that
# scripts/docker/test.sh fills in; not for production use.
FROM debian:bookworm-slim
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
# The machine's extra certificate authorities (a TLS-intercepting proxy's), which the debian stand-in
# carries: npm ci in the build stage needs them to reach the registry.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/extra-ca.pem
CMD ["node"]
