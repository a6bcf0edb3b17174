# The Berth gateway as a container image.
#
#   docker build -t berth .
#   docker run -d --name berth --network host \
#     -v /var/run/docker.sock:/var/run/docker.sock -v berth-data:/data \
#     -e BERTH_RUNTIME_KIND=docker -e BERTH_ENVIRONMENT_IMAGE=jupyter/base-notebook \
#     -e BERTH_PUBLIC_URL=https://berth.example.com berth
#
# BASE names the Node.js 20 image both stages start from: the official one by
# default; the tests build on a local stand-in (scripts/build-test-images.sh).
ARG BASE=node:20-bookworm

# Build: every dependency (the compiler is a dev dependency), compile, then
# drop the dev dependencies; native modules are compiled here, against BASE's
# Node.js, so the final stage needs no tool chain.
FROM ${BASE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# The package's prepare script compiles src/, which comes after the dependencies
# so that a change there reuses this layer and recompiles no native module.
RUN npm pkg delete scripts.prepare && npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund && rm -rf node_modules/.cache

FROM ${BASE}
# tini as PID 1: it forwards SIGTERM to the gateway (which then shuts down in
# order) and reaps what exits under it. The official image lacks it; a base
# that has it (the tests' offline one) skips the download.
RUN if ! command -v tini >/dev/null; then \
      apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*; \
    fi \
 && { getent group berth >/dev/null || groupadd --system berth; } \
 && { id -u berth >/dev/null 2>&1 || useradd --system --gid berth --home-dir /data --shell /usr/sbin/nologin berth; } \
 && mkdir -p /data && chown berth:berth /data && chmod 0700 /data
WORKDIR /opt/berth
COPY package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY deploy/docker/entrypoint.sh /usr/local/bin/berth-entrypoint
COPY deploy/docker/healthcheck.cjs ./
ENV NODE_ENV=production \
    BERTH_DATA_DIR=/data \
    BERTH_LISTEN_HTTP=0.0.0.0:8000 \
    BERTH_LISTEN_SSH=0.0.0.0:2222 \
    BERTH_LOG_FORMAT=json
VOLUME /data
EXPOSE 8000 2222
# A mounted /etc/berth/berth.yaml is read when present (BERTH_* variables still override its keys).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["node", "/opt/berth/healthcheck.cjs"]
ENTRYPOINT ["tini", "--", "berth-entrypoint"]
CMD ["serve"]
