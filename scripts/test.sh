#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (GoogleTest suites, the commands end to
# end, real services and Prometheus, deployment checks, formatting) under CTest; then the tests
# that do not load LibTorch again under ASan + UBSan. Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j 2
scripts/test-sanitizers.sh
