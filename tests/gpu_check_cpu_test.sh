#!/usr/bin/env bash
# scripts/gpu-check.sh run on the CPU (GPU_CHECK_DEVICE=cpu, short runs, this build's binaries):
# every step of the GPU check works where no GPU is, so the script is ready when one is lent.
# Usage: gpu_check_cpu_test.sh REPO_ROOT BUILD_DIR
set -uo pipefail
root=$1
build=$(cd "$2" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$root" || exit 1
GPU_CHECK_DEVICE=cpu BUILD_DIR="$build" scripts/gpu-check.sh run "$out" >/dev/null 2>&1
report=$out/gpu-check.txt
failures=0
checks=0
check() {
  checks=$((checks + 1))
  grep -qE -- "$1" "$report" || { echo "FAIL: $2"; failures=$((failures + 1)); }
}
check '^[0-9]+ passed, 0 failed$' "device check"
check '^softmax +fused poly_n N=1000 +[0-9.]+ +[0-9.]+ +[0-9.]+x$' "bench table"
check '^sigmoid +fused sigmoid poly1 e=2 ' "bench sigmoid row"
check '^job gpu-check-cnn finished after 5/5 steps' "standalone job"
check '^  eval_f1 +[0-9.]+$' "multi-label job"
for model in mlp cnn resnet; do
  check "^$model +FP32 +[0-9]+ +[0-9]+ +[0-9]+ +[0-9.]+x$" "$model C++ vs Python row"
  check "^$model +BF16 +[0-9]+ +[0-9]+ " "$model BF16 row"
done
check '^job-[0-9a-f]+ gpu-check-sweep-poly1-e-2-s1: succeeded$' "sweep through the service"
check '^polytrain_worker_jobs_running 0' "worker /metrics"
checks=$((checks + 1))
if grep -qE '\(exit [0-9]+\)' "$report"; then
  echo "FAIL: a step exited non-zero"
  failures=$((failures + 1))
fi
[[ $failures -eq 0 ]] || cat "$report"
echo "gpu_check_cpu_test: $((checks - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]
