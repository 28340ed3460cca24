#!/usr/bin/env bash
# Builds the tests that do not load LibTorch and the libFuzzer harnesses (fuzz/) with clang,
# AddressSanitizer + UndefinedBehaviorSanitizer and libFuzzer's coverage instrumentation in
# build-asan/ (one build for both), runs the tests with leak checking on, then each fuzzer over its
# seed corpus for a bounded time (scripts/fuzz.sh). scripts/test.sh calls this after the main run.
#
#   POLYTRAIN_FUZZ_SECONDS   seconds per fuzzer (default 20; 0 skips fuzzing)
#   ASAN_BUILD_DIR           the build directory (default build-asan)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${ASAN_BUILD_DIR:-build-asan}
tests=(polyloss_core_test polyloss_spec_test proto_file_test numeric_csv_test job_spec_test
       job_store_test coordinator_test coordinator_metrics_test run_statistics_test
       artifact_store_test loss_grid_test token_authenticator_test grpc_security_test
       coordinator_concurrency_test file_checksum_test)
fuzzers=(job_spec_text_fuzzer job_spec_json_fuzzer loss_spec_fuzzer worker_protocol_fuzzer)

# The same configuration as scripts/fuzz.sh, so that either script reuses the other's build.
# LibTorch is configured only because worker/ (which holds the torch-free job_spec library the
# coordinator links) is added with it; nothing built here links LibTorch.
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPOLYTRAIN_SANITIZE=address,undefined,fuzzer-no-link -DPOLYTRAIN_BUILD_FUZZERS=ON \
  -DPOLYTRAIN_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${tests[@]}" "${fuzzers[@]}"

regex=$(IFS='|'; echo "^(${tests[*]})\$")
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --test-dir "$build" --output-on-failure -R "$regex"

seconds=${POLYTRAIN_FUZZ_SECONDS:-20}
if ((seconds > 0)); then
  POLYTRAIN_FUZZ_BUILD=0 FUZZ_BUILD_DIR="$build" scripts/fuzz.sh "$seconds"
fi
