#!/usr/bin/env bash
# Installs what is missing, then configures and builds PolyTrain (Release, Ninja). Extra
# arguments go to CMake, e.g. scripts/build.sh -DPOLYTRAIN_SANITIZE=address,undefined
#
#   POLYTRAIN_TORCH=debian   (default) Debian's LibTorch 1.13, CPU only; in build/
#   POLYTRAIN_TORCH=pip      PyTorch's own LibTorch (pinned 2.x, built with CUDA) from a virtual
#                            environment made by scripts/setup-torch-pip.sh; in build-pip/
#   BUILD_DIR=dir            another build directory
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
torch_args=()
case "${POLYTRAIN_TORCH:-debian}" in
  debian) build=${BUILD_DIR:-build} ;;
  pip)
    build=${BUILD_DIR:-build-pip}
    torch_args=(-DCMAKE_PREFIX_PATH="$(scripts/setup-torch-pip.sh)")
    ;;
  *) echo "build.sh: POLYTRAIN_TORCH must be debian or pip" >&2; exit 2 ;;
esac
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${torch_args[@]}" "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
