#!/usr/bin/env bash
# Data-parallel scaling: the same Fashion-MNIST job (global batch fixed) run with replicas 1, 2
# and 4 through a coordinator and four workers of one thread each on this machine, in
# interleaved rounds. For
# each: the job's samples/s (the sum over its ranks), the mean step time, the gradient bytes
# each rank all-reduces per step and the time that takes (rank 0's points, medians over the
# job's training points and then over rounds). Then a model of the step time,
#   t(R) = c * B / min(R, cores) + a(R),   a(R) = 2 (R-1)/R * S / bw + lat * (R-1),
# with c (seconds per sample) from R = 1, bw and lat from the all-reduce time measured at R = 2
# and R = 4, checked against the measured samples/s.
# Usage: bench/data_parallel_bench.sh [BUILD_DIR] [ROUNDS] [MODEL] [BATCH] [STEPS] [WORKER_FLAG...]
#   MODEL: a ModelSpec in text format (default the MLP 'mlp { hidden: [256, 256] }'; 'cnn {}'
#   is compute-bound where the MLP is bound by the all-reduce's latency); WORKER_FLAGs go to every
#   worker (e.g. --gang_in_process, against a gang's connections in a process of their own)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-3}
model=${3:-mlp { hidden: [256, 256] \}}
batch=${4:-128}
steps=${5:-400}
worker_flags=("${@:6}")
cores=$(nproc)
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
"$build/server/polytrain-coordinator" --plaintext --listen 127.0.0.1:0 --port_file "$tmp/port" \
  --db "$tmp/db" --artifacts "$tmp/artifacts" --metrics_listen "" 2>/dev/null &
pids+=($!)
for _ in $(seq 200); do [[ -s "$tmp/port" ]] && break; sleep 0.05; done
POLYTRAIN_COORDINATOR="127.0.0.1:$(cat "$tmp/port")"
export POLYTRAIN_COORDINATOR
for w in 1 2 3 4; do
  "$build/worker/polytrain-worker" --coordinator "$POLYTRAIN_COORDINATOR" --name "bench-$w" \
    --threads 1 "${worker_flags[@]}" 2>/dev/null &
  pids+=($!)
done
for replicas in 1 2 4; do
  cat >"$tmp/r$replicas.txtpb" <<SPEC
name: "dp-bench-r$replicas"
model { $model }
dataset { fashion_mnist {} }
loss { poly1 { epsilon: 2 } }
optimizer { sgd { momentum: 0.9 } learning_rate: 0.05 }
max_steps: $steps
batch_size: $batch
seed: 1
log_every_steps: 20
replicas: $replicas
SPEC
done
for ((round = 0; round < rounds; round++)); do
  for replicas in 1 2 4; do
    "$build/client/polyctl" submit "$tmp/r$replicas.txtpb" --watch >"$tmp/watch"
    job=$(head -1 "$tmp/watch")
    "$build/client/polyctl" metrics "$job" --format csv >"$tmp/r$replicas.$round.csv"
  done
done
echo "worker flags: ${worker_flags[*]:-(none)}"
/usr/bin/python3 - "$tmp" "$rounds" "$cores" "$batch" "$model" "$steps" <<'PY'
import csv, statistics, sys
tmp, rounds, cores, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
model, steps = sys.argv[5], int(sys.argv[6])
def medians(replicas):
    per_round = {"samples_per_second": [], "allreduce_seconds_per_step": [],
                 "allreduce_bytes_per_step": []}
    for r in range(rounds):
        rows = [row for row in csv.DictReader(open(f"{tmp}/r{replicas}.{r}.csv"))
                if row["kind"] == "train"]
        for key in per_round:
            values = [float(row[key]) for row in rows if row.get(key) not in (None, "")]
            per_round[key].append(statistics.median(values) if values else 0.0)
    return {key: statistics.median(v) for key, v in per_round.items()}
m = {r: medians(r) for r in (1, 2, 4)}
step = {r: batch / m[r]["samples_per_second"] for r in m}
print(f"Fashion-MNIST, model {{ {model} }}, global batch {batch}, {steps} steps, {cores} cores, "
      f"workers of 1 thread, {rounds} interleaved rounds (medians)")
print(f"{'replicas':>8} {'samples/s':>10} {'speed-up':>8} {'step ms':>8} {'all-reduce ms':>13} "
      f"{'bytes/step':>11}")
for r in (1, 2, 4):
    print(f"{r:>8} {m[r]['samples_per_second']:>10.0f} "
          f"{m[r]['samples_per_second'] / m[1]['samples_per_second']:>8.2f} "
          f"{1000 * step[r]:>8.2f} {1000 * m[r]['allreduce_seconds_per_step']:>13.3f} "
          f"{m[r]['allreduce_bytes_per_step']:>11.0f}")
# The model: compute per sample from R = 1; all-reduce cost a(R) = k(R) * S / bw + lat * (R - 1)
# with k(R) = 2 (R - 1) / R, fitted to the two measured all-reduce times (R = 2, 4).
c = step[1] / batch
S = m[2]["allreduce_bytes_per_step"]
a2, a4 = m[2]["allreduce_seconds_per_step"], m[4]["allreduce_seconds_per_step"]
# a2 = 1.0 * S / bw + lat,  a4 = 1.5 * S / bw + 3 lat
inv_bw = (a4 - 3 * a2) / (1.5 * S - 3 * S)
lat = a2 - S * inv_bw
if inv_bw <= 0 or lat < 0:  # the two points do not separate bandwidth from latency: latency only
    inv_bw, lat = 0.0, a2
bw = float("inf") if inv_bw == 0 else 1 / inv_bw
print(f"model: c = {1e6 * c:.2f} us/sample, all-reduce bandwidth {bw / 1e9:.2f} GB/s, "
      f"latency {1e3 * lat:.3f} ms per peer")
for r in (1, 2, 4, 8, 16):
    a = 0.0 if r == 1 else 2 * (r - 1) / r * S * inv_bw + lat * (r - 1)
    t = c * batch / min(r, cores) + a
    measured = f"{m[r]['samples_per_second']:.0f}" if r in m else "-"
    print(f"  R={r:<2} predicted {batch / t:>8.0f} samples/s, measured {measured:>8}")
PY
