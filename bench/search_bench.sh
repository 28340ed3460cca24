#!/usr/bin/env bash
# Successive halving against a grid over the same range, through the real service: Poly-1's
# epsilon in [-1, 10] on the Fashion-MNIST MLP (examples/jobs/fashion_mnist_search_base.txtpb,
# EPOCHS epochs). The grid: 12 evenly spaced epsilons x 3 seeds, each to the end. The search:
# 12 epsilons drawn from the range, rungs of 1, 3, ... epochs with eta 3, then the best
# configuration and cross-entropy re-run with 3 seeds. For each: the best loss by mean test
# accuracy over its seeds, that mean and the seeds' standard deviation, the optimizer steps all
# its jobs trained (GetSweep's total_steps) and the wall time. The search runs ROUNDS times with
# draw seeds 1..ROUNDS (it is cheap; its outcome depends on the draws). Goal: the search's best
# within the grid's best minus its seed noise (one standard deviation), at most 1/3 of the grid's
# steps. The grid's seed noise is given two ways: the best configuration's standard deviation
# over its 3 seeds, and the standard deviation pooled over all 12 configurations.
# Usage: bench/search_bench.sh [BUILD_DIR] [EPOCHS] [SLOTS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
epochs=${2:-6}
slots=${3:-2}
rounds=${4:-3}
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
"$build/server/polytrain-coordinator" --plaintext --listen 127.0.0.1:0 --port_file "$tmp/port" \
  --db "$tmp/db" --artifacts "$tmp/artifacts" --metrics_listen "" 2>/dev/null &
pids+=($!)
for _ in $(seq 200); do [[ -s "$tmp/port" ]] && break; sleep 0.05; done
POLYTRAIN_COORDINATOR="127.0.0.1:$(cat "$tmp/port")"
export POLYTRAIN_COORDINATOR
"$build/worker/polytrain-worker" --coordinator "$POLYTRAIN_COORDINATOR" --name bench \
  --slots "$slots" --threads 1 --checkpoint_dir "$tmp/checkpoints" 2>/dev/null &
pids+=($!)
sed -e "s/^epochs: .*/epochs: $epochs/" examples/jobs/fashion_mnist_search_base.txtpb \
  >"$tmp/base.txtpb"
polyctl=$build/client/polyctl

start=$(date +%s.%N)
"$polyctl" sweep "$tmp/base.txtpb" --loss-grid 'poly1.epsilon=-1,0,1,2,3,4,5,6,7,8,9,10' \
  --seeds 3 --wait >"$tmp/grid" 2>/dev/null
grid_seconds=$(echo "$(date +%s.%N) - $start" | bc)
"$polyctl" get "$(head -1 "$tmp/grid")" --format json >"$tmp/grid.json"

for ((round = 1; round <= rounds; round++)); do
  start=$(date +%s.%N)
  "$polyctl" search "$tmp/base.txtpb" --range poly1.epsilon=-1:10 --trials 12 \
    --draw-seed "$round" --min-resource 1 --eta 3 --top-k 1 --seeds 3 --watch \
    --poll-seconds 0.5 >"$tmp/search$round" 2>/dev/null
  echo "$(date +%s.%N) - $start" | bc >"$tmp/search$round.seconds"
  "$polyctl" get "$(head -1 "$tmp/search$round")" --format json >"$tmp/search$round.json"
done
sed -n '2,$p' "$tmp/search1"

/usr/bin/python3 - "$tmp" "$grid_seconds" "$epochs" "$rounds" <<'PY'
import json, math, statistics, sys
tmp, grid_seconds, epochs, rounds = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
grid = json.load(open(f"{tmp}/grid.json"))
ranking = grid["ranking"]
pooled = math.sqrt(statistics.mean(r.get("std", 0.0) ** 2 for r in ranking))
g = ranking[0]
g_steps = int(grid["total_steps"])
print(f"Fashion-MNIST MLP, poly1 epsilon in [-1, 10], {epochs} epochs per full run")
print(f"grid ({len(ranking)} losses x 3 seeds, {g_steps} steps, {grid_seconds:.1f} s), best five:")
for r in ranking[:5]:
    print(f"  {r['loss_name']:18} mean {r['mean']:.4f} std {r.get('std', 0.0):.4f}")
print(f"  seed std: of the best {g.get('std', 0.0):.4f}, pooled over all {pooled:.4f}")
print(f"{'search':8} {'best loss':18} {'runs':>4} {'mean acc':>9} {'seed std':>9} {'steps':>8} "
      f"{'/grid':>6} {'seconds':>8}  within best - std (best's / pooled)")
ratios, means = [], []
for k in range(1, rounds + 1):
    search = json.load(open(f"{tmp}/search{k}.json"))
    seconds = float(open(f"{tmp}/search{k}.seconds").read())
    s = search["ranking"][0]
    steps = int(search["total_steps"])
    ratios.append(steps / g_steps)
    means.append(s["mean"])
    ok_best = "met" if s["mean"] >= g["mean"] - g.get("std", 0.0) else "not met"
    ok_pooled = "met" if s["mean"] >= g["mean"] - pooled else "not met"
    print(f"draw {k:<3} {s['loss_name']:18} {s['runs']:4d} {s['mean']:9.4f} {s.get('std', 0.0):9.4f} "
          f"{steps:8d} {steps / g_steps:6.3f} {seconds:8.1f}  {ok_best} / {ok_pooled}")
print(f"mean over draws: steps / grid {statistics.mean(ratios):.3f} (goal <= 0.333: "
      f"{'met' if max(ratios) <= 1 / 3 else 'not met'}), best accuracy {statistics.mean(means):.4f} "
      f"vs grid best {g['mean']:.4f}")
PY
