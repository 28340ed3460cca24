#!/usr/bin/env bash
# The whole CTest suite against PyTorch's own LibTorch (pinned 2.x, built with CUDA; see
# scripts/setup-torch-pip.sh) beside Debian's gRPC, protobuf and absl, in build-pip/: the proof
# that a GPU worker's build works, run on a machine without a GPU (its CUDA tests find no
# device and take the CPU). scripts/test.sh calls this last; POLYTRAIN_TEST_TORCH_PIP=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${POLYTRAIN_TEST_TORCH_PIP:-1} == 0 ]]; then
  echo "test-torch-pip: skipped (POLYTRAIN_TEST_TORCH_PIP=0)"
  exit 0
fi
POLYTRAIN_TORCH=pip BUILD_DIR=build-pip scripts/build.sh
ctest --test-dir build-pip --output-on-failure -j 2
