#!/usr/bin/env bash
# Builds the tests that do not load LibTorch with AddressSanitizer + UndefinedBehaviorSanitizer
# (leak checking on) in build-asan/ and runs them. scripts/test.sh calls this after the main run.
set -euo pipefail
cd "$(dirname "$0")/.."
tests=(polyloss_core_test polyloss_spec_test proto_file_test numeric_csv_test job_spec_test
       job_store_test coordinator_test coordinator_metrics_test run_statistics_test
       artifact_store_test loss_grid_test)
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPOLYTRAIN_SANITIZE=address,undefined -DPOLYTRAIN_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$(nproc)" --target "${tests[@]}"
regex=$(IFS='|'; echo "^(${tests[*]})\$")
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
ctest --test-dir build-asan --output-on-failure -R "$regex"
