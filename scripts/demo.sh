#!/usr/bin/env bash
# Installs what is missing, builds, and shows PolyTrain at work: how loss presets read as
# polynomial coefficients, the training kernels on a small batch, a standalone training run, and
# then the service: a coordinator and a worker on loopback (embedded SQLite, temporary files), a
# sweep on Fashion-MNIST (cross-entropy vs Poly-1 with epsilon -1, 1, 2; 2 seeds each) and the
# comparison table. About a minute on 2 cores after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
polyloss=build/loss/tool/polyloss

for spec in cross_entropy poly1 focal poly1_focal drop10; do
  echo "=== polyloss describe --spec examples/losses/$spec.txtpb"
  "$polyloss" describe --spec "examples/losses/$spec.txtpb"
  echo
done

echo "=== L(pt) at pt = 0.05, 0.5, 0.95 for each loss"
for spec in cross_entropy poly1 focal drop10; do
  "$polyloss" curve --spec "examples/losses/$spec.txtpb" --pt 0.05,0.5,0.95
done
echo

echo "=== polyloss eval: Poly-1 on three samples, by the kernels training uses"
"$polyloss" eval --spec examples/losses/poly1.txtpb --logits examples/batch/logits.csv \
  --targets examples/batch/targets.csv
echo

echo "=== polytrain-worker: Fashion-MNIST MLP with Poly-1 (epsilon = 2), 3 epochs"
out=$(mktemp -d)
build/worker/polytrain-worker --spec examples/jobs/fashion_mnist_mlp_poly1.txtpb \
  --metrics_out "$out/metrics.jsonl" --checkpoint_dir "$out/checkpoints"
echo "metric points: $(wc -l <"$out/metrics.jsonl") lines in $out/metrics.jsonl"
echo

echo "=== The service: polytrain-coordinator + polytrain-worker, a sweep through polyctl"
work=$(mktemp -d /tmp/polytrain-demo.XXXXXX)
cleanup() {
  kill "${worker_pid:-}" "${coordinator_pid:-}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
build/server/polytrain-coordinator --plaintext --listen 127.0.0.1:0 --port_file "$work/port" \
  --db "$work/polytrain.db" --artifacts "$work/artifacts" --metrics_listen 127.0.0.1:0 \
  --metrics_port_file "$work/metrics_port" \
  2>"$work/coordinator.log" &
coordinator_pid=$!
for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.1; done
POLYTRAIN_COORDINATOR="127.0.0.1:$(cat "$work/port")"
export POLYTRAIN_COORDINATOR
build/worker/polytrain-worker --coordinator "$POLYTRAIN_COORDINATOR" --name demo-worker \
  --checkpoint_dir "$work/checkpoints" 2>"$work/worker.log" &
worker_pid=$!
echo "coordinator at $POLYTRAIN_COORDINATOR (metrics on port $(cat "$work/metrics_port")), db $work/polytrain.db"
echo "$ polyctl sweep examples/jobs/fashion_mnist_sweep_base.txtpb --loss 'cross_entropy {}' --loss-grid 'poly1.epsilon=-1,1,2' --seeds 2 --wait"
sweep=$(build/client/polyctl sweep examples/jobs/fashion_mnist_sweep_base.txtpb \
  --loss 'cross_entropy {}' --loss-grid 'poly1.epsilon=-1,1,2' --seeds 2 --wait)
echo "$sweep"
echo "$ polyctl compare --sweep $sweep --per-job --plot $work/compare.png"
build/client/polyctl compare --sweep "$sweep" --per-job --plot "$work/compare.png"
echo "curves of every run: $work/compare.png"
