#!/bin/sh
# Entry point of the edgeplane images: the first argument names what to run.
#   edgeplane <service> [args…]   node services/<service>/src/main.ts
#   edgeplane migrate             apply every service's database migrations (DATABASE_URL)
#   edgeplane help                list what can run
# exec: node replaces this shell, so it receives SIGTERM from tini and drains.
set -eu
cd "${EDGEPLANE_HOME:-/app}"

usage() {
  echo "usage: edgeplane <service> | migrate | help" >&2
  printf '  services:' >&2
  for main in services/*/src/main.ts; do
    name=${main#services/}
    printf ' %s' "${name%%/*}" >&2
  done
  echo >&2
}

what=${1:-help}
case "$what" in
  help | -h | --help)
    usage
    exit 0
    ;;
  migrate)
    shift
    exec node proto/src/runtime/migrate.ts "$@"
    ;;
esac

# A service name is lower-case letters and dashes only: it becomes a path below.
case "$what" in
  *[!a-z-]* | -*)
    echo "edgeplane: not a service name: $what" >&2
    usage
    exit 64
    ;;
esac
if [ ! -f "services/$what/src/main.ts" ]; then
  echo "edgeplane: no such service: $what" >&2
  usage
  exit 64
fi
shift
exec node "services/$what/src/main.ts" "$@"
