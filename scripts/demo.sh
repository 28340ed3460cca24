#!/usr/bin/env bash
# Installs what is missing, builds, and shows the loss library at work: how presets read as
# polynomial coefficients, their curves side by side, and the training kernels on a small batch.
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
