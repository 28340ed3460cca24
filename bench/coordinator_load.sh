#!/usr/bin/env bash
# Starts a fresh polytrain-coordinator (its own SQLite file) and runs the load generator against
# it over loopback. Usage: bench/coordinator_load.sh [BUILD_DIR] [CLIENTS] [SECONDS]
#   COORDINATOR=path/to/polytrain-coordinator   another build's binary (e.g. an older one)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
tmp=$(mktemp -d)
"${COORDINATOR:-$build/server/polytrain-coordinator}" --plaintext --listen 127.0.0.1:0 --port_file "$tmp/port" \
  --db "$tmp/load.db" --artifacts "$tmp/artifacts" --metrics_listen "" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 200); do [[ -s "$tmp/port" ]] && break; sleep 0.05; done
"$build/bench/coordinator_load" --coordinator "127.0.0.1:$(cat "$tmp/port")" \
  --clients "${2:-8}" --seconds "${3:-5}"
