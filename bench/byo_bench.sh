#!/usr/bin/env bash
# Bring-your-own-model overhead: training samples/s of a TorchScript copy of the built-in MLP and
# CNN (made by python3-torch from bench/python_trainer.py's definitions) against the native
# model, on the same data, threads and loss, runs interleaved; and the time to load Fashion-MNIST
# from a torch.save tensor file against Debian's IDX files (a 1-step job's wall time, start-up
# included); and what augmentation (crops, flips) costs the CNN. Medians of ROUNDS.
# Usage: bench/byo_bench.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rounds=${2:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=bench/bench_spec.sh
source bench/bench_spec.sh

/usr/bin/python3 - "$tmp" <<'PY'
import sys
import torch
sys.path.insert(0, "bench")
sys.path.insert(0, "examples/byo")
from python_trainer import model_for
from make_model_and_data import read_idx
out = sys.argv[1]
for kind in ("mlp", "cnn"):
    torch.jit.script(model_for(kind)).save(f"{out}/{kind}.pt")
source = "/usr/share/datasets/fashion-mnist"
train_x = read_idx(f"{source}/train-images-idx3-ubyte.gz").unsqueeze(1).float() / 255
test_x = read_idx(f"{source}/t10k-images-idx3-ubyte.gz").unsqueeze(1).float() / 255
mean, std = train_x.mean(), train_x.std()
labels = {"train_y": read_idx(f"{source}/train-labels-idx1-ubyte.gz").long(),
          "test_y": read_idx(f"{source}/t10k-labels-idx1-ubyte.gz").long()}
torch.save(dict(labels, train_x=(train_x - mean) / std, test_x=(test_x - mean) / std),
           f"{out}/fashion_mnist.pt")
# The same pixels as the IDX files hold them: uint8, which the loader scales to [0, 1].
torch.save(dict(labels, train_x=read_idx(f"{source}/train-images-idx3-ubyte.gz").unsqueeze(1),
                test_x=read_idx(f"{source}/t10k-images-idx3-ubyte.gz").unsqueeze(1)),
           f"{out}/fashion_mnist_uint8.pt")
PY
cp -r /usr/share/datasets/fashion-mnist "$tmp/fashion-mnist"  # the data root holds both

throughput() { "$build/worker/polytrain-worker" --spec "$1" --data_root "$tmp" --quiet |
  awk '/train throughput/ {print $3}'; }
# interleaved SPEC_A SPEC_B: the median samples/s of each over `rounds` alternating runs.
interleaved() {
  : >"$tmp/a"
  : >"$tmp/b"
  for ((r = 0; r < rounds; r++)); do
    throughput "$1" >>"$tmp/a"
    throughput "$2" >>"$tmp/b"
  done
  echo "$(median <"$tmp/a") $(median <"$tmp/b")"
}
wall() {  # SPEC [WORKER FLAGS...]
  local start spec=$1
  shift
  start=$(date +%s.%N)
  "$build/worker/polytrain-worker" --spec "$spec" --data_root "$tmp" --quiet "$@" >/dev/null
  echo "$(date +%s.%N) - $start" | bc -l
}

echo "byo bench: Fashion-MNIST, batch 128, 1 thread; medians of $rounds interleaved rounds"
printf '%-5s %6s %16s %16s %14s\n' model steps "native samples/s" "script samples/s" "native/script"
for config in mlp:1500 cnn:150; do
  IFS=: read -r model steps <<<"$config"
  bench_spec "native-$model" "$model" "$steps" >"$tmp/native.txtpb"
  sed "s|^model .*|model { torchscript { path: \"$model.pt\" } }|" "$tmp/native.txtpb" \
    >"$tmp/script.txtpb"
  read -r native script < <(interleaved "$tmp/native.txtpb" "$tmp/script.txtpb")
  printf '%-5s %6s %16.0f %16.0f %13.2fx\n' "$model" "$steps" "$native" "$script" \
    "$(echo "$native / $script" | bc -l)"
done

echo
echo "loading Fashion-MNIST (a 1-step MLP job, wall seconds, start-up included)"
bench_spec "load-idx" mlp 1 | sed 's/test_limit: 1000/test_limit: 1/' >"$tmp/idx.txtpb"
sed 's|^dataset { fashion_mnist {}|dataset { tensors { path: "fashion_mnist.pt" }|' \
  "$tmp/idx.txtpb" >"$tmp/float32.txtpb"
sed 's|^dataset { fashion_mnist {}|dataset { tensors { path: "fashion_mnist_uint8.pt" }|' \
  "$tmp/idx.txtpb" >"$tmp/uint8.txtpb"
: >"$tmp/idx"
: >"$tmp/float32"
: >"$tmp/uint8"
: >"$tmp/uint8-unprobed"
for ((r = 0; r < rounds; r++)); do
  for source in idx float32 uint8; do wall "$tmp/$source.txtpb" >>"$tmp/$source"; done
  # The tensor file loaded in this process only (worker/load_probe.h): what the probe costs.
  wall "$tmp/uint8.txtpb" --no_load_probe >>"$tmp/uint8-unprobed"
done
idx=$(median <"$tmp/idx")
for source in float32 uint8 uint8-unprobed; do
  value=$(median <"$tmp/$source")
  printf 'IDX files (gzip uint8) %.2f s, tensor file (%s) %.2f s: %.2fx\n' "$idx" "$source" \
    "$value" "$(echo "$value / $idx" | bc -l)"
done

echo
echo "augmentation (native CNN, 150 steps): samples/s without and with crops padded by 4 and flips"
bench_spec "plain-cnn" cnn 150 >"$tmp/plain.txtpb"
sed 's|^dataset { fashion_mnist {}|dataset { fashion_mnist {} augment { random_crop_padding: 4 horizontal_flip: true }|' \
  "$tmp/plain.txtpb" >"$tmp/augmented.txtpb"
read -r plain augmented < <(interleaved "$tmp/plain.txtpb" "$tmp/augmented.txtpb")
printf 'plain %.0f samples/s, augmented %.0f samples/s: %.2fx\n' "$plain" "$augmented" \
  "$(echo "$plain / $augmented" | bc -l)"
