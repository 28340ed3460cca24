#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (GoogleTest suites, the commands end to
# end, real services and Prometheus, deployment checks, formatting) under CTest; then, built with
# clang, the tests that do not load LibTorch under ASan + UBSan with the libFuzzer harnesses run
# for a bounded time (scripts/test-sanitizers.sh), and the coordinator's concurrency tests under
# ThreadSanitizer (scripts/test-tsan.sh). Exits non-zero when any of them fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j 2
scripts/test-sanitizers.sh
scripts/test-tsan.sh
