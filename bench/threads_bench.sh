#!/usr/bin/env bash
# Training throughput of polytrain-worker at `threads: 1` and `threads: 2` with nothing set in
# the environment (no OPENBLAS_NUM_THREADS): what a job gets from the worker's own thread
# control. With BASELINE=path/to/polytrain-worker (another build), the same runs of it go
# interleaved with this build's, round by round. Usage:
#   [BASELINE=...] bench/threads_bench.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset OPENBLAS_NUM_THREADS OMP_NUM_THREADS

# shellcheck source=bench/bench_spec.sh
source bench/bench_spec.sh
throughput() { "$1" --spec "$2" --quiet | awk '/train throughput/ {print $3}'; }

echo "threads bench: Fashion-MNIST, batch 128, training samples/s (medians of $rounds interleaved rounds), $(nproc) cores"
printf '%-5s %-8s %14s %14s\n' model threads "this build" "baseline"
for config in mlp:1500 cnn:150; do
  IFS=: read -r model steps <<<"$config"
  for threads in 1 2; do
    bench_spec "threads-$model" "$model" "$steps" "$threads" >"$tmp/spec.txtpb"
    : >"$tmp/new"
    : >"$tmp/old"
    for ((r = 0; r < rounds; r++)); do
      throughput "$build/worker/polytrain-worker" "$tmp/spec.txtpb" >>"$tmp/new"
      if [[ -n ${BASELINE:-} ]]; then throughput "$BASELINE" "$tmp/spec.txtpb" >>"$tmp/old"; fi
    done
    printf '%-5s %-8s %14.0f %14s\n' "$model" "$threads" "$(median <"$tmp/new")" \
      "$([[ -n ${BASELINE:-} ]] && printf '%.0f' "$(median <"$tmp/old")" || echo -)"
  done
done
