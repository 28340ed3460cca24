#!/usr/bin/env bash
# How long a standalone run that writes a checkpoint every 2 steps takes: an MLP of about 6.9 M
# parameters (a ~55 MB checkpoint with its SGD momentum), 40 steps, 20 checkpoints (2 kept), so
# that writing checkpoints is most of the time. With BASELINE, another build's polytrain-worker
# runs the same spec in the same rounds, interleaved, for a side-by-side ratio.
# Usage: [BASELINE=OTHER_BUILD_DIR] bench/checkpoint_bench.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-3}
baseline=${BASELINE:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/spec.txtpb" <<'SPEC'
name: "checkpoint-bench"
model { mlp { hidden: [2048, 2048] } }
dataset { synthetic { classes: 10 features: 784 train_samples: 2560 test_samples: 64 seed: 1 } }
loss { cross_entropy {} }
optimizer { sgd { momentum: 0.9 } learning_rate: 0.01 }
max_steps: 40
batch_size: 64
threads: 1
checkpoint { every_steps: 2 keep_last: 2 }
SPEC
run() {  # seconds of one run of $1's worker
  rm -rf "$tmp/ckpt"
  local start end
  start=$(date +%s.%N)
  "$1/worker/polytrain-worker" --spec "$tmp/spec.txtpb" --checkpoint_dir "$tmp/ckpt" --quiet \
    >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f\n", b - a}'
}
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
: >"$tmp/new"
: >"$tmp/base"
for _ in $(seq "$rounds"); do
  run "$build" >>"$tmp/new"
  [[ -n $baseline ]] && run "$baseline" >>"$tmp/base"
done
new=$(median <"$tmp/new")
echo "checkpoint bench: 40 steps, a checkpoint every 2 (~$(du -m "$tmp"/ckpt/*.pt 2>/dev/null |
  head -1 | cut -f1) MB each), $rounds interleaved rounds, medians"
echo "this build ($build): $new s"
if [[ -n $baseline ]]; then
  base=$(median <"$tmp/base")
  echo "baseline ($baseline): $base s"
  echo "ratio this/baseline: $(awk -v a="$new" -v b="$base" 'BEGIN {printf "%.3f", a / b}')"
fi
