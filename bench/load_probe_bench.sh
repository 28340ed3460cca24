#!/usr/bin/env bash
# The load probe's wait at a job's start (worker/load_probe.h) in service mode: a coordinator and
# one worker; JOBS jobs each coming to an idle worker, then JOBS back to back, each naming its own
# TorchScript model and tensors file (so each start probes two files, one right after the other);
# from the worker's log line "loaded first in a process of its own in N ms", the median wait of
# each file. Given a second worker binary (e.g. an older build), the same jobs on it in the same
# run, for a side-by-side ratio.
# Usage: bench/load_probe_bench.sh [BUILD_DIR] [JOBS] [OTHER_WORKER_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
jobs=${2:-5}
other=${3:-}
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
# shellcheck source=bench/bench_spec.sh
source bench/bench_spec.sh

/usr/bin/python3 - "$tmp" <<'PY'
import sys
import torch
out = sys.argv[1]
torch.jit.script(torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(),
                                     torch.nn.Linear(32, 5))).save(f"{out}/mlp.pt")
g = torch.Generator().manual_seed(1)
x, tx = torch.randn(1000, 20, generator=g), torch.randn(200, 20, generator=g)
torch.save({"train_x": x, "train_y": x[:, :5].argmax(1), "test_x": tx,
            "test_y": tx[:, :5].argmax(1)}, f"{out}/data.pt")
PY
cat >"$tmp/job.txtpb" <<'SPEC'
name: "probe-bench"
model { torchscript { path: "mlp.pt" } }
dataset { tensors { path: "data.pt" } }
loss { cross_entropy {} }
optimizer { sgd {} learning_rate: 0.1 }
max_steps: 2
batch_size: 50
max_attempts: 1
SPEC

"$build/server/polytrain-coordinator" --plaintext --listen 127.0.0.1:0 --port_file "$tmp/port" \
  --db "$tmp/db" --artifacts "$tmp/artifacts" --metrics_listen "" 2>"$tmp/coordinator.log" &
pids+=($!)
for _ in $(seq 200); do [[ -s "$tmp/port" ]] && break; sleep 0.05; done
address=127.0.0.1:$(cat "$tmp/port")
polyctl() { "$build/client/polyctl" --coordinator "$address" "$@"; }

# jobs N GAP: N jobs, each GAP seconds after the last one ended.
jobs_after() {
  for ((j = 0; j < $1; j++)); do
    sleep "$2"
    polyctl submit "$tmp/job.txtpb" --files "$tmp" --watch >/dev/null 2>"$tmp/submit.err" || {
      echo "load_probe_bench: a job did not succeed: $(cat "$tmp/submit.err")" >&2
      exit 1
    }
  done
}
# run WORKER_BINARY LABEL: the median wait of each file's probe, for jobs that come to an idle
# worker (3 s after the last, its children started long before) and for jobs back to back (the
# children for the next one still starting).
run() {
  local log="$tmp/$2.log"
  "$1" --coordinator "$address" --name "$2" --artifact_cache_dir "$tmp/cache-$2" \
    --metrics_listen "" 2>"$log" &
  local worker=$!
  pids+=("$worker")
  jobs_after "$jobs" 3
  jobs_after "$jobs" 0
  kill "$worker"
  wait "$worker" || true
  waits() { grep -F "$1" "$log" | grep -o 'in [0-9]* ms' | awk '{print $2}'; }
  local idle_data idle_model busy_data busy_model
  idle_data=$(waits spec.dataset.tensors.artifact | head -n "$jobs" | median)
  idle_model=$(waits spec.model.torchscript.artifact | head -n "$jobs" | median)
  busy_data=$(waits spec.dataset.tensors.artifact | tail -n "$jobs" | median)
  busy_model=$(waits spec.model.torchscript.artifact | tail -n "$jobs" | median)
  printf '%-6s idle worker: data %4s ms, model %4s ms; back to back: data %4s ms, model %4s ms\n' \
    "$2" "$idle_data" "$idle_model" "$busy_data" "$busy_model"
  echo "$idle_model $busy_model" >"$tmp/$2.model"
}

echo "load probe at a job's start: a model and a tensors file; $jobs jobs each to an idle worker, then $jobs back to back (medians)"
run "$build/worker/polytrain-worker" this
if [[ -n "$other" ]]; then
  run "$other" other
  read -r other_idle other_busy <"$tmp/other.model"
  read -r this_idle this_busy <"$tmp/this.model"
  echo "the model's wait, other/this: idle worker $(echo "$other_idle / $this_idle" | bc -l |
    xargs printf '%.1f')x, back to back $(echo "$other_busy / $this_busy" | bc -l |
    xargs printf '%.1f')x"
fi
