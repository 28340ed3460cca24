#!/usr/bin/env bash
# Builds the GoogleTest suites that run without LibTorch (label torch_free; not those that start
# service processes, label process, nor those that run gRPC's own threads, label grpc) under
# ThreadSanitizer with clang in build-tsan/ and runs
# them: the scheduler with its lease thread and watchers from many threads, the worker's outbox,
# the stores; any data race fails the run. Debian's gRPC, protobuf and absl are not instrumented: scripts/tsan.supp
# may silence only reports that lie entirely in them, never in our code. scripts/test.sh calls
# this after scripts/test-sanitizers.sh.
#
#   TSAN_BUILD_DIR   the build directory (default build-tsan)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${TSAN_BUILD_DIR:-build-tsan}
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPOLYTRAIN_WITH_TORCH=OFF -DPOLYTRAIN_SANITIZE=thread -DPOLYTRAIN_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/scripts/tsan.supp"
ctest --test-dir "$build" --output-on-failure -L torch_free -LE "process|grpc"
