#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (GoogleTest suites, the polyloss command
# end to end, formatting) under CTest. Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j 2
