#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (GoogleTest suites, the commands end to
# end, real services and Prometheus, deployment checks, formatting) under CTest; then, built with
# clang and without LibTorch, every test that does not need it under ASan + UBSan with the
# libFuzzer harnesses run for a bounded time (scripts/test-sanitizers.sh), and its GoogleTest
# suites under ThreadSanitizer (scripts/test-tsan.sh); last, the whole suite again against
# PyTorch's own LibTorch 2.x (scripts/test-torch-pip.sh). Exits non-zero when any of them fails.
set -euo pipefail
cd "$(dirname "$0")/.."
POLYTRAIN_TORCH=debian scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j 2
scripts/test-sanitizers.sh
scripts/test-tsan.sh
scripts/test-torch-pip.sh
