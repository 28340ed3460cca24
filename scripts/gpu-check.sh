#!/usr/bin/env bash
# The GPU checks of issue 12 in one go, for the device machine (one H200 with PyTorch 2.11 and
# CUDA 13.0 in its Python, no Debian packages, no network), in two halves:
#
#   scripts/gpu-check.sh pack     here: builds against PyTorch's LibTorch 2.11 (build-pip/) and
#                                 packs into .gpu-check/ what the GPU machine lacks: the binaries,
#                                 the Debian libraries they link (gRPC, protobuf, absl, ...) and
#                                 Fashion-MNIST. LibTorch itself is the machine's own.
#   scripts/gpu-check.sh run OUT  there: runs every check and writes OUT/gpu-check.txt:
#     1. polyloss_device_check: every loss family on CUDA against the float64 reference
#        (float64, float32, bfloat16 and float16);
#     2. polyloss bench on CUDA: fused vs torch cross_entropy and BCE, B = 8192, C = 1000 and
#        C = 32000, N up to 1000, with the device path's series;
#     3. a standalone CUDA training job (the CNN on Fashion-MNIST), its throughput and peak GPU
#        memory;
#     4. samples/s of the C++ trainer against Python PyTorch on the same GPU and model (MLP, CNN,
#        ResNet; batch 128; interleaved rounds, medians), FP32 and BF16;
#     5. the whole service on the box: a coordinator, a CUDA worker (--device cuda), a polyctl
#        sweep, and the worker's per-GPU /metrics.
#
# GPU_CHECK_DEVICE=cpu runs the same steps on the CPU with the binaries of BUILD_DIR (default
# build/) and short runs (the CTest gpu_check_cpu_test does, so the script stays working where no
# GPU is). With the device tool: run `pack` here, then
#   command: scripts/gpu-check.sh run "$OUT"   carry: [".gpu-check"]   timeout_s: 540
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=.gpu-check

pack() {
  POLYTRAIN_TORCH=pip scripts/build.sh
  rm -rf "$bundle"
  mkdir -p "$bundle/bin" "$bundle/lib" "$bundle/datasets/fashion-mnist"
  local binaries=(server/polytrain-coordinator worker/polytrain-worker client/polyctl
                  loss/tool/polyloss loss/polyloss_device_check)
  for binary in "${binaries[@]}"; do
    strip --strip-unneeded -o "$bundle/bin/$(basename "$binary")" "build-pip/$binary"
  done
  # Every library they load, except LibTorch's (the machine's PyTorch has them) and the C and
  # C++ runtimes every Linux has.
  ldd "$bundle"/bin/* | awk '$3 ~ /^\// {print $3}' | sort -u |
    grep -v -e '/torch/lib/' -e '/nvidia/' -e 'libc\.so' -e 'libm\.so' -e 'libstdc++' \
      -e 'libgcc_s' -e 'libpthread' -e 'libdl\.so' -e 'librt\.so' -e 'ld-linux' |
    while read -r library; do cp -L "$library" "$bundle/lib/"; done
  cp /usr/share/datasets/fashion-mnist/*.gz "$bundle/datasets/fashion-mnist/"
  echo "gpu-check pack: $(du -sh "$bundle" | cut -f1) in $bundle" \
    "($(find "$bundle/lib" -type f | wc -l) libraries)"
}

# shellcheck source=bench/bench_spec.sh
source bench/bench_spec.sh

run() {
  local out=${1:?usage: gpu-check.sh run OUT_DIR}
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  local device=${GPU_CHECK_DEVICE:-cuda} bin data python work report
  work=$(mktemp -d)
  report="$out/gpu-check.txt"
  : >"$report"
  if [[ $device == cuda ]]; then
    bin=$bundle/bin
    data=$(cd "$bundle/datasets/fashion-mnist" && pwd)
    python=python3
    local torch_lib
    torch_lib=$($python -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
    LD_LIBRARY_PATH="$(cd "$bundle/lib" && pwd):$torch_lib"
    export LD_LIBRARY_PATH
  else
    local build=${BUILD_DIR:-build}
    bin=$work/bin
    mkdir -p "$bin"
    for binary in server/polytrain-coordinator worker/polytrain-worker client/polyctl \
                  loss/tool/polyloss loss/polyloss_device_check; do
      ln -s "$(cd "$build" && pwd)/$binary" "$bin/"
    done
    data=/usr/share/datasets/fashion-mnist
    python=/usr/bin/python3
  fi
  bin=$(cd "$bin" && pwd)
  # Short runs on the CPU: the same steps, a fraction of the work.
  local quick=0 rounds=3 steps_mlp=2000 steps_cnn=600 steps_resnet=300 bench_rounds=20
  if [[ $device == cpu ]]; then
    quick=1 rounds=1 steps_mlp=20 steps_cnn=5 steps_resnet=3 bench_rounds=1
  fi
  section() { echo; echo "=== $*"; } >>"$report"
  note() { echo "$*" >>"$report"; }
  step() {  # step LIMIT_SECONDS COMMAND...: output into the report, a failure noted, not fatal
    local limit=$1
    shift
    { echo "\$ $*"; timeout "$limit" "$@" 2>&1 || echo "(exit $?)"; } >>"$report"
  }

  section "machine"
  { date -u; uname -m; nvidia-smi -L 2>/dev/null || echo "no nvidia-smi";
    $python -c 'import torch; print("python torch", torch.__version__, "cuda", torch.version.cuda,
      "devices", torch.cuda.device_count())' 2>&1; } >>"$report"

  section "1. the loss against the float64 reference on every device"
  step 120 "$bin/polyloss_device_check"

  section "2. polyloss bench on $device (B = 8192; device path)"
  local batch=8192 small=1000 large=32000
  [[ $quick == 1 ]] && batch=64 small=10 large=50
  step 150 "$bin/polyloss" bench --device "$device" --path device --batch "$batch" \
    --classes "$small" --rounds "$bench_rounds" --no-naive
  step 150 "$bin/polyloss" bench --device "$device" --path device --batch "$batch" \
    --classes "$large" --rounds "$bench_rounds" --no-naive --no-sigmoid

  local device_enum=DEVICE_CUDA
  [[ $device == cpu ]] && device_enum=DEVICE_CPU
  spec() { bench_spec "gpu-check-$1" "$1" "$2" 1 "$device_enum" "$3"; }  # spec MODEL STEPS PRECISION

  section "3. a standalone training job on $device"
  spec cnn "$steps_cnn" PRECISION_FP32 >"$work/cnn.txtpb"
  step 180 "$bin/polytrain-worker" --spec "$work/cnn.txtpb" --data_root "$(dirname "$data")" \
    --metrics_out "$work/cnn.jsonl" --quiet
  note "peak GPU memory per logging window (bytes): $(grep -o '"gpu_memory_peak_bytes":[0-9.e+]*' \
    "$work/cnn.jsonl" 2>/dev/null | cut -d: -f2 | sort -g | tail -1)"

  section "3b. a multi-label job on $device, deterministic (its evaluation's label scores)"
  step 60 "$python" -c 'import sys, torch
g = torch.Generator().manual_seed(1)
x, rules = torch.randn(2000, 20, generator=g), torch.randn(20, 5, generator=g)
y = (x @ rules > 0.5).float()
torch.save({"train_x": x[:1500], "train_y": y[:1500], "test_x": x[1500:], "test_y": y[1500:]},
           sys.argv[1])' "$work/multi_label.pt"
  cat >"$work/multi_label.txtpb" <<SPEC
name: "gpu-check-multi-label" model { mlp { hidden: [32] } }
dataset { tensors { path: "multi_label.pt" } }
loss { focal { gamma: 2 } activation: ACTIVATION_SIGMOID }
optimizer { adam {} learning_rate: 0.01 } epochs: 2 batch_size: 64 seed: 1
device: $device_enum deterministic: true
SPEC
  step 120 "$bin/polytrain-worker" --spec "$work/multi_label.txtpb" --data_root "$work" --quiet

  section "4. samples/s, C++ trainer vs Python PyTorch, same $device, model and batch (medians of $rounds)"
  printf '%-7s %-9s %6s %14s %14s %7s\n' model precision steps "C++ samples/s" "Py samples/s" \
    ratio >>"$report"
  for config in mlp:$steps_mlp cnn:$steps_cnn resnet:$steps_resnet; do
    local model=${config%%:*} steps=${config##*:}
    for precision in PRECISION_FP32 PRECISION_BF16; do
      spec "$model" "$steps" "$precision" >"$work/$model.txtpb"
      : >"$work/cpp"
      : >"$work/py"
      for ((r = 0; r < rounds; r++)); do
        timeout 300 "$bin/polytrain-worker" --spec "$work/$model.txtpb" \
          --data_root "$(dirname "$data")" --quiet | awk '/train throughput/ {print $3}' \
          >>"$work/cpp" || true
        if [[ $precision == PRECISION_FP32 ]]; then
          timeout 300 "$python" bench/python_trainer.py --model "$model" --steps "$steps" \
            --warmup 20 --device "$device" --data "$data" 2>/dev/null |
            "$python" -c 'import json,sys; print(json.load(sys.stdin)["samples_per_second"])' \
            >>"$work/py" || true
        fi
      done
      local cpp py
      cpp=$(median <"$work/cpp")
      py=$(median <"$work/py")
      if [[ -n $cpp && -n $py ]]; then
        awk -v m="$model" -v p="${precision#PRECISION_}" -v s="$steps" -v c="$cpp" -v y="$py" \
          'BEGIN {printf "%-7s %-9s %6s %14.0f %14.0f %6.2fx\n", m, p, s, c, y, c / y}' >>"$report"
      else
        printf '%-7s %-9s %6s %14s %14s\n' "$model" "${precision#PRECISION_}" "$steps" \
          "${cpp:-failed}" "${py:--}" >>"$report"
      fi
    done
  done

  section "5. the service: coordinator, a worker on $device, a polyctl sweep"
  local worker_device=(--device cuda)
  [[ $device == cpu ]] && worker_device=()
  "$bin/polytrain-coordinator" --plaintext --listen 127.0.0.1:0 --port_file "$work/port" \
    --metrics_listen 127.0.0.1:0 --db "$work/db" --artifacts "$work/artifacts" \
    2>"$work/coordinator.log" &
  local coordinator_pid=$!
  for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.1; done
  if [[ ! -s "$work/port" ]]; then
    note "(the coordinator did not start (exit 1): $(tail -3 "$work/coordinator.log"))"
    kill "$coordinator_pid" 2>/dev/null || true
    rm -rf "$work"
    echo "gpu-check: report in $report"
    return 0
  fi
  POLYTRAIN_COORDINATOR="127.0.0.1:$(cat "$work/port")"
  export POLYTRAIN_COORDINATOR
  "$bin/polytrain-worker" --coordinator "$POLYTRAIN_COORDINATOR" --name gpu-check "${worker_device[@]}" \
    --data_root "$(dirname "$data")" --metrics_listen 127.0.0.1:0 \
    --metrics_port_file "$work/worker_metrics" 2>"$work/worker.log" &
  local worker_pid=$!
  spec mlp $((steps_mlp / 2)) PRECISION_FP32 | sed 's/^name: .*/name: "gpu-check-sweep"/' \
    >"$work/sweep.txtpb"
  step 240 "$bin/polyctl" sweep "$work/sweep.txtpb" \
    --loss 'cross_entropy {}' --loss-grid 'poly1.epsilon=1,2' --wait
  step 30 "$bin/polyctl" list
  for _ in $(seq 50); do [[ -s "$work/worker_metrics" ]] && break; sleep 0.1; done
  if [[ -s "$work/worker_metrics" ]]; then
    "$python" -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' \
      "http://127.0.0.1:$(cat "$work/worker_metrics")/metrics" 2>&1 |
      grep -E '^polytrain_worker_(gpu|jobs|samples)' >>"$report" || note "(no GPU series)"
  fi
  kill "$worker_pid" "$coordinator_pid" 2>/dev/null || true
  wait "$worker_pid" "$coordinator_pid" 2>/dev/null || true
  rm -rf "$work"
  echo "gpu-check: report in $report"
}

case "${1:-}" in
  pack) pack ;;
  run) shift; run "$@" ;;
  *) echo "usage: scripts/gpu-check.sh pack | run OUT_DIR" >&2; exit 2 ;;
esac
