#!/usr/bin/env bash
# Successive halving against a grid over the same range, through the real service: Poly-1's
# epsilon in [-1, 10] on the Fashion-MNIST MLP (examples/jobs/fashion_mnist_sweep_base.txtpb,
# EPOCHS epochs). The grid: 12 evenly spaced epsilons x 3 seeds, each to the end. The search:
# 12 epsilons drawn from the range, rungs of 1, 3, ... epochs with eta 3, then the best
# configuration and cross-entropy re-run with 3 seeds. For each: the best loss by mean test
# accuracy over its seeds, that mean and the seeds' standard deviation, the optimizer steps all
# its jobs trained (GetSweep's total_steps) and the wall time. Goal: the search's best within the
# grid's best minus its seed noise (one standard deviation), at most 1/3 of the grid's steps.
# Usage: bench/search_bench.sh [BUILD_DIR] [EPOCHS] [SLOTS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
epochs=${2:-6}
slots=${3:-2}
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
"$build/server/polytrain-coordinator" --plaintext --listen 127.0.0.1:0 --port_file "$tmp/port" \
  --db "$tmp/db" --artifacts "$tmp/artifacts" --metrics_listen "" 2>/dev/null &
pids+=($!)
for _ in $(seq 200); do [[ -s "$tmp/port" ]] && break; sleep 0.05; done
export POLYTRAIN_COORDINATOR="127.0.0.1:$(cat "$tmp/port")"
"$build/worker/polytrain-worker" --coordinator "$POLYTRAIN_COORDINATOR" --name bench \
  --slots "$slots" --threads 1 --checkpoint_dir "$tmp/checkpoints" 2>/dev/null &
pids+=($!)
sed -e "s/^epochs: .*/epochs: $epochs/" examples/jobs/fashion_mnist_sweep_base.txtpb \
  >"$tmp/base.txtpb"
polyctl=$build/client/polyctl

start=$(date +%s.%N)
"$polyctl" sweep "$tmp/base.txtpb" --loss-grid 'poly1.epsilon=-1,0,1,2,3,4,5,6,7,8,9,10' \
  --seeds 3 --wait >"$tmp/grid" 2>/dev/null
grid_seconds=$(echo "$(date +%s.%N) - $start" | bc)
"$polyctl" get "$(head -1 "$tmp/grid")" --format json >"$tmp/grid.json"

start=$(date +%s.%N)
"$polyctl" search "$tmp/base.txtpb" --range poly1.epsilon=-1:10 --trials 12 --draw-seed 1 \
  --min-resource 1 --eta 3 --top-k 1 --seeds 3 --watch --poll-seconds 0.5 >"$tmp/search" 2>/dev/null
search_seconds=$(echo "$(date +%s.%N) - $start" | bc)
"$polyctl" get "$(head -1 "$tmp/search")" --format json >"$tmp/search.json"
sed -n '2,$p' "$tmp/search"

/usr/bin/python3 - "$tmp/grid.json" "$tmp/search.json" "$grid_seconds" "$search_seconds" "$epochs" <<'PY'
import json, sys
grid, search = (json.load(open(p)) for p in sys.argv[1:3])
grid_seconds, search_seconds, epochs = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
def best(sweep):
    row = sweep["ranking"][0]
    return row["loss_name"], row["mean"], row.get("std", 0.0), row["runs"]
g_loss, g_mean, g_std, g_runs = best(grid)
s_loss, s_mean, s_std, s_runs = best(search)
g_steps, s_steps = int(grid["total_steps"]), int(search["total_steps"])
print(f"Fashion-MNIST MLP, poly1 epsilon in [-1, 10], {epochs} epochs per full run")
print(f"{'':8} {'best loss':18} {'runs':>4} {'mean acc':>9} {'seed std':>9} {'steps':>8} {'seconds':>8}")
print(f"{'grid':8} {g_loss:18} {g_runs:4d} {g_mean:9.4f} {g_std:9.4f} {g_steps:8d} {grid_seconds:8.1f}")
print(f"{'search':8} {s_loss:18} {s_runs:4d} {s_mean:9.4f} {s_std:9.4f} {s_steps:8d} {search_seconds:8.1f}")
ratio = s_steps / g_steps
within = s_mean >= g_mean - g_std
print(f"steps: search / grid = {ratio:.3f} (goal <= 0.333: {'met' if ratio <= 1 / 3 else 'not met'})")
print(f"accuracy: search best {s_mean:.4f} vs grid best {g_mean:.4f} - seed std {g_std:.4f} = "
      f"{g_mean - g_std:.4f} ({'met' if within else 'not met'})")
ce = [r for r in search["ranking"] if r.get("baseline")]
if ce:
    print(f"search's test of its best against ce: p = {search['ranking'][0].get('p_value', float('nan'))}")
PY
