#!/usr/bin/env bash
# Installs what is missing, then configures and builds PolyTrain in build/ (Release, Ninja).
# Extra arguments go to CMake, e.g. scripts/build.sh -DPOLYTRAIN_SANITIZE=address,undefined
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
cmake -S . -B "${BUILD_DIR:-build}" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "${BUILD_DIR:-build}" -j "$(nproc)"
