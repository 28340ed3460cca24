#!/usr/bin/env bash
# Builds the coordinator's concurrency tests (the tests that run without LibTorch and start
# threads: the coordinator with its lease thread and watchers, the job store, the artifact store,
# the token authenticator) under ThreadSanitizer with clang in build-tsan/ and runs them; any data
# race fails the run. Debian's gRPC, protobuf and absl are not instrumented: scripts/tsan.supp
# may silence only reports that lie entirely in them, never in our code. scripts/test.sh calls
# this after scripts/test-sanitizers.sh.
#
#   TSAN_BUILD_DIR   the build directory (default build-tsan)
set -euo pipefail
cd "$(dirname "$0")/.."
tests=(coordinator_test coordinator_concurrency_test job_store_test artifact_store_test
       token_authenticator_test)
build=${TSAN_BUILD_DIR:-build-tsan}
# LibTorch is configured only because worker/ (the torch-free job_spec library the coordinator
# links) is added with it; nothing built here links LibTorch.
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPOLYTRAIN_SANITIZE=thread -DPOLYTRAIN_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${tests[@]}"
regex=$(IFS='|'; echo "^(${tests[*]})\$")
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/scripts/tsan.supp"
ctest --test-dir "$build" --output-on-failure -R "$regex"
