#!/usr/bin/env bash
# SubmitJob throughput against queues of different depths, each on a fresh coordinator with no
# worker connected (so nothing drains the queue): the cost of scheduling must not grow with it.
# Prints submissions/s per depth and the ratio to the empty queue, all measured in this one run.
#
#   bench/queue_scaling.sh [BUILD_DIR] [CLIENTS] [SECONDS] [DEPTHS...]
#   COORDINATOR=path/to/polytrain-coordinator   another build's binary (e.g. an older one)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
clients=${2:-4}
seconds=${3:-5}
shift $(($# < 3 ? $# : 3))
depths=("$@")
((${#depths[@]} > 0)) || depths=(0 10000 100000)
coordinator=${COORDINATOR:-$build/server/polytrain-coordinator}
tmp=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

printf '%-8s %12s %10s %10s %8s\n' "queued" "submits/s" "p50 ms" "p99 ms" "ratio"
base=""
for depth in "${depths[@]}"; do
  rm -rf "$tmp/run" && mkdir -p "$tmp/run"
  "$coordinator" --plaintext --listen 127.0.0.1:0 --port_file "$tmp/run/port" \
    --db "$tmp/run/db" --artifacts "$tmp/run/artifacts" --metrics_listen "" 2>/dev/null &
  pid=$!
  for _ in $(seq 400); do [[ -s "$tmp/run/port" ]] && break; sleep 0.05; done
  "$build/bench/coordinator_load" --coordinator "127.0.0.1:$(cat "$tmp/run/port")" \
    --clients "$clients" --seconds "$seconds" --prefill "$depth" --no-ingest >"$tmp/run/out"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  line=$(grep '^SubmitJob:' "$tmp/run/out")
  rate=$(sed -E 's/.* = ([0-9.]+)\/s.*/\1/' <<<"$line")
  p50=$(sed -E 's/.*p50 ([0-9.]+).*/\1/' <<<"$line")
  p99=$(sed -E 's/.*p99 ([0-9.]+).*/\1/' <<<"$line")
  [[ -n "$base" ]] || base=$rate
  printf '%-8s %12s %10s %10s %8s\n' "$depth" "$rate" "$p50" "$p99" \
    "$(echo "scale=2; $rate / $base" | bc)"
done
