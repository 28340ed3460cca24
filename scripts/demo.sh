#!/usr/bin/env bash
# Installs what is missing, builds, and shows PolyTrain at work: how loss presets read as
# polynomial coefficients, their curves side by side, the training kernels on a small batch, and
# a real training run on Fashion-MNIST with Poly-1 (about 10 s on 2 cores).
# (The service demo — coordinator, worker, a Fashion-MNIST sweep — arrives with the service.)
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
