#!/usr/bin/env bash
# Configures build-asan/ without LibTorch and builds everything there with clang,
# AddressSanitizer + UndefinedBehaviorSanitizer and libFuzzer's coverage instrumentation (the
# libFuzzer harnesses of fuzz/ too), runs every test (label torch_free) with leak checking on,
# then each fuzzer over its seed corpus for a bounded time (scripts/fuzz.sh). scripts/test.sh
# calls this after the main run.
#
#   POLYTRAIN_FUZZ_SECONDS   seconds per fuzzer (default 20; 0 skips fuzzing)
#   ASAN_BUILD_DIR           the build directory (default build-asan)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${ASAN_BUILD_DIR:-build-asan}

# LibTorch off: nothing looks for it. This build is also the proof that everything but the
# trainer and the loss kernels (the coordinator, polyctl, the api, the loss spec, the worker's
# torch-free parts) builds and passes its tests without LibTorch; every test it defines carries
# the label torch_free. scripts/fuzz.sh configures the same, so neither rebuilds the other's work.
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPOLYTRAIN_WITH_TORCH=OFF -DPOLYTRAIN_SANITIZE=address,undefined,fuzzer-no-link \
  -DPOLYTRAIN_BUILD_FUZZERS=ON -DPOLYTRAIN_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"

ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --test-dir "$build" --output-on-failure -L torch_free

seconds=${POLYTRAIN_FUZZ_SECONDS:-20}
if ((seconds > 0)); then
  POLYTRAIN_FUZZ_BUILD=0 FUZZ_BUILD_DIR="$build" scripts/fuzz.sh "$seconds"
fi
