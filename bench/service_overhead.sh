#!/usr/bin/env bash
# The same job run standalone (polytrain-worker --spec) and through the service (polyctl submit
# --watch to a coordinator with one worker), wall time from start to result, interleaved rounds,
# medians. Usage: bench/service_overhead.sh [BUILD_DIR] [ROUNDS] [SPEC]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-3}
spec=${3:-examples/jobs/fashion_mnist_mlp_poly1.txtpb}
tmp=$(mktemp -d)
"$build/server/polytrain-coordinator" --plaintext --listen 127.0.0.1:0 --port_file "$tmp/port" \
  --db "$tmp/db" --artifacts "$tmp/artifacts" --metrics_listen "" 2>/dev/null &
coordinator=$!
for _ in $(seq 200); do [[ -s "$tmp/port" ]] && break; sleep 0.05; done
POLYTRAIN_COORDINATOR="127.0.0.1:$(cat "$tmp/port")"
export POLYTRAIN_COORDINATOR
"$build/worker/polytrain-worker" --coordinator "$POLYTRAIN_COORDINATOR" --name bench 2>/dev/null &
worker=$!
trap 'kill $worker $coordinator 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for ((r = 0; r < rounds; r++)); do
  t0=$(now); "$build/worker/polytrain-worker" --spec "$spec" --quiet >/dev/null; t1=$(now)
  echo "$t1 - $t0" | bc -l >>"$tmp/standalone"
  t0=$(now); "$build/client/polyctl" submit "$spec" --watch >/dev/null; t1=$(now)
  echo "$t1 - $t0" | bc -l >>"$tmp/service"
done
standalone=$(median <"$tmp/standalone")
service=$(median <"$tmp/service")
printf 'job %s, %d interleaved rounds, medians\n' "$spec" "$rounds"
printf 'standalone polytrain-worker --spec: %.2f s\n' "$standalone"
printf 'through coordinator + worker:      %.2f s\n' "$service"
printf 'ratio: %.3f\n' "$(echo "$service / $standalone" | bc -l)"
