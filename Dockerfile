# syntax=docker/dockerfile:1.7
#
# edgeplane container images, one Dockerfile with two final targets:
#
#   docker build -t edgeplane:0.1.0 .                          # app image (default target)
#   docker build --target agent -t edgeplane-agent:0.1.0 .     # + haproxy, wireguard-tools
#
# One image holds every service; the first argument selects the entry point:
#   docker run edgeplane:0.1.0 gateway      (auth, adapters, stats, haproxy-agent, wg-agent, migrate)
#
# Services run under Node's type stripping (no build step): the image carries the
# TypeScript sources of proto/ and services/, and only production dependencies.
# Runs as a non-root user (10001) with a read-only root filesystem in mind: nothing is
# written outside /tmp and the data dirs the chart mounts.

# The base image, pinned to an exact Node + Debian release (bump it deliberately; for
# reproducible production builds also pin the digest: node:24.21.0-bookworm-slim@sha256:…).
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# --- manifests: only the package.json files, so the dependency layer below is rebuilt
# only when a manifest or the lock file changes, not on every source edit.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir /manifests \
 && find . -name package.json -not -path "*/node_modules/*" -exec cp --parents {} /manifests/ \; \
 && cp package-lock.json /manifests/

# --- deps: production dependencies of proto and every service (not test/, bench/,
# launcher/ nor the root dev tools). No install scripts run: nothing here needs one.
# `npm ci` installs exactly the lock; when the lock was written against a registry mirror
# that lacks some platforms' optional builds (see scripts/provision.sh), npm ci refuses
# it and `npm install` installs the same locked versions.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY --from=manifests /manifests/ ./
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --workspace proto --workspace services \
 || npm install --omit=dev --ignore-scripts --workspace proto --workspace services

# --- runtime: what both final images share.
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 edgeplane \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin edgeplane
WORKDIR /app
ENV NODE_ENV=production \
    EP_HTTP_HOST=0.0.0.0 \
    EP_HEALTH_HOST=0.0.0.0
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json ./
COPY --chown=root:root proto/package.json proto/
COPY --chown=root:root proto/src proto/src
COPY --chown=root:root services services
COPY --chown=root:root --chmod=0755 deploy/image/entrypoint.sh /usr/local/bin/edgeplane
# Sources and dependencies are root-owned and read-only for the service user.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/edgeplane"]
CMD ["help"]

# --- agent: the runtime plus the data-plane tools the agents drive. haproxy-agent runs
# haproxy as its non-root user; the file capability lets haproxy bind ports < 1024 when
# the pod grants NET_BIND_SERVICE (and only then). wg-agent runs with NET_ADMIN only.
FROM runtime AS agent
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      haproxy wireguard-tools wireguard-go iproute2 nftables libcap2-bin \
 && setcap cap_net_bind_service=+ep /usr/sbin/haproxy \
 && rm -rf /var/lib/apt/lists/* \
 && find / -xdev -perm /6000 -type f -exec chmod a-s {} +
USER 10001:10001

# --- app (default target, last stage): gateway, auth, adapters, stats.
FROM runtime AS app
# No setuid/setgid binaries: nothing in the image can gain privileges.
RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} +
USER 10001:10001
EXPOSE 8080 9090
