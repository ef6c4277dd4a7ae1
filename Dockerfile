# syntax=docker/dockerfile:1
# eca-rotator container image. Build from the repository root:
#   docker build -t eca-rotator:0.1.0 .
#   docker run --rm eca-rotator:0.1.0 --help
# Stages: deps (production node_modules only), build (compiles and bundles src/ to dist/ with the dev dependencies),
# simulator (the fake Salesforce org for the docker-compose dry run; built only with --target simulator),
# runtime (node:24.22.3-slim + deps + dist without the simulator and the demo; non-root; writes nothing outside
# /var/lib/eca-rotator). runtime is the last stage, so a plain `docker build` makes it.
# The base is the exact Node version scripts/setup.sh installs (scripts/node-toolchain), the same in every
# FROM line. A tag can still be re-pushed: for fully reproducible builds also pin its digest, e.g.
#   FROM node:24.22.3-slim@sha256:<digest>   (docker buildx imagetools inspect node:24.22.3-slim)

FROM node:24.22.3-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# No dependency needs an install script; --ignore-scripts keeps a compromised package from running at build time.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24.22.3-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.ts ./scripts/
COPY src ./src
RUN npm run build
# dist-image/ is what the production image ships: dist/ without the simulator (a fake org with fake secrets, no
# real authentication and a test-only admin API, which must not be startable beside production credentials) and
# without the demo that drives it. `eca-rotator simulate` there says in one line that it is not part of the image.
RUN cp -a dist dist-image && rm -rf dist-image/simulator dist-image/demo

# The docker-compose dry run's simulator (`docker compose` builds this target): the whole dist/, same user and
# volume layout as runtime. Never the default image.
FROM node:24.22.3-slim AS simulator
ENV NODE_ENV=production \
    NO_UPDATE_NOTIFIER=1
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
RUN mkdir -p /var/lib/eca-rotator && chown 1000:1000 /var/lib/eca-rotator && chmod 0700 /var/lib/eca-rotator
VOLUME ["/var/lib/eca-rotator"]
USER 1000:1000
ENTRYPOINT ["node", "--enable-source-maps", "/app/dist/cli.js"]
CMD ["simulate", "--help"]

FROM node:24.22.3-slim AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="eca-rotator" \
      org.opencontainers.image.description="Credential-rotation sidecar for HashiCorp Vault / OpenBao: rotates Salesforce External Client App secrets with no downtime" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/node:24.22.3-slim"
# NODE_ENV: production code paths in the dependencies. Nothing here runs npm, so nothing writes to $HOME; the
# CLI's compile cache (kept in ~/.cache) is off for the same reason.
ENV NODE_ENV=production \
    NO_UPDATE_NOTIFIER=1 \
    NODE_DISABLE_COMPILE_CACHE=1
WORKDIR /app
# Application files stay owned by root: the process (uid 1000) can read them but never change them.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist-image ./dist
COPY package.json ./
COPY policies ./policies
# The only writable place: the audit file (audit.file: /var/lib/eca-rotator/audit.jsonl) and its lock file.
# All rotation state lives in Vault, so the root filesystem can be mounted read-only.
RUN mkdir -p /var/lib/eca-rotator && chown 1000:1000 /var/lib/eca-rotator && chmod 0700 /var/lib/eca-rotator
VOLUME ["/var/lib/eca-rotator"]
# The base image's `node` user, by number so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 1000:1000
EXPOSE 8080
# `serve` handles SIGTERM itself (rotations pause at a step boundary within server.shutdown_timeout, default
# 30s), so give `docker stop` more than that: docker stop -t 45 (compose: stop_grace_period). node runs as
# PID 1 (exec-form ENTRYPOINT), receives the signal directly and starts no child processes; `docker run
# --init` (tini) is harmless but not needed.
STOPSIGNAL SIGTERM
# Liveness of `serve`. Assumes server.listen on port 8080 (e.g. 0.0.0.0:8080); slim images have no curl, so
# node asks. One-shot commands (scan, report, check) exit long before the first check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# --no-opt --no-maglev --no-sparkplug: V8's optimising and baseline compilers stay off. A sidecar that scans once
# a minute gains little from them, and they cost resident memory: about 10 MB for `serve` (their code pages in
# the node binary and the code they emit), 1.5 MB of it the baseline compiler's, against about 10 % more CPU per
# scan (docs/benchmarks.md). On the command line, not only from `serve` itself, because V8 touches those pages
# before any of our code runs.
# --max-semi-space-size=1: a 1 MB young generation. A scan's garbage dies young; with V8's default young
# generation the heap swings by about 15 MB per scan of 10,000 credentials, and the peak with it. V8 sizes the
# young generation as the heap is set up, so only the command line gives it fully (from `serve` itself it is
# a third as effective: about 1,700 scavenges in 40 s instead of 5,200, peak 104 MB instead of 96).
ENTRYPOINT ["node", "--enable-source-maps", "--no-opt", "--no-maglev", "--no-sparkplug", "--max-semi-space-size=1", "/app/dist/cli.js"]
CMD ["serve"]
