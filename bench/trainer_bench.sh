#!/usr/bin/env bash
# Training throughput of the C++ trainer (polytrain-worker) against Python PyTorch on the same
# LibTorch (Debian's python3-torch): same model, batch size, threads and data, runs interleaved,
# median of each. Usage: [CONFIGS='mlp:1500:1 ...'] [BASELINE=OTHER_BUILD_DIR]
#   bench/trainer_bench.sh [BUILD_DIR] [ROUNDS]
# BASELINE adds a third side to every round: another build's polytrain-worker (e.g. one of an
# earlier commit), so that a change to the trainer is measured side by side against the code
# before it, with the ratio in the last column.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=bench/bench_spec.sh
source bench/bench_spec.sh

baseline=${BASELINE:-}
if [[ -n $baseline && ! -x $baseline/worker/polytrain-worker ]]; then
  echo "BASELINE: no $baseline/worker/polytrain-worker" >&2
  exit 2
fi
echo "trainer bench: Fashion-MNIST, batch 128, SGD Nesterov, cross-entropy; training steps only"
echo "(data decoded once; evaluation and start-up excluded); $rounds interleaved rounds, medians"
[[ -n $baseline ]] && echo "baseline: $baseline/worker/polytrain-worker"
printf '%-5s %-8s %6s %14s %14s %7s' model threads steps "C++ samples/s" "Py samples/s" ratio
[[ -n $baseline ]] && printf ' %14s %8s' "base samples/s" "vs base"
echo
# CONFIGS: model:steps:threads entries, space-separated.
for config in ${CONFIGS:-mlp:1500:1 mlp:1500:2 cnn:150:1 cnn:150:2}; do
  IFS=: read -r model steps threads <<<"$config"
  bench_spec "bench-$model" "$model" "$steps" "$threads" >"$tmp/$model.txtpb"
  : >"$tmp/cpp"
  : >"$tmp/py"
  : >"$tmp/base"
  # LibTorch's intra-op threads and OpenBLAS's own pool both set to the same count in both
  # processes (OpenBLAS otherwise starts one thread per core whatever LibTorch is told).
  export OPENBLAS_NUM_THREADS=$threads
  for ((r = 0; r < rounds; r++)); do
    "$build/worker/polytrain-worker" --spec "$tmp/$model.txtpb" --quiet |
      awk '/train throughput/ {print $3}' >>"$tmp/cpp"
    /usr/bin/python3 bench/python_trainer.py --model "$model" --steps "$steps" \
      --threads "$threads" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["samples_per_second"])' >>"$tmp/py"
    if [[ -n $baseline ]]; then
      "$baseline/worker/polytrain-worker" --spec "$tmp/$model.txtpb" --quiet |
        awk '/train throughput/ {print $3}' >>"$tmp/base"
    fi
  done
  cpp=$(median <"$tmp/cpp")
  py=$(median <"$tmp/py")
  printf '%-5s %-8s %6s %14.0f %14.0f %6.2fx' "$model" "$threads" "$steps" "$cpp" "$py" \
    "$(echo "$cpp / $py" | bc -l)"
  if [[ -n $baseline ]]; then
    base=$(median <"$tmp/base")
    printf ' %14.0f %7.3fx' "$base" "$(echo "$cpp / $base" | bc -l)"
  fi
  echo
done
