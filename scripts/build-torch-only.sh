#!/usr/bin/env bash
# Builds only the parts that need nothing but LibTorch (the loss core, the fused op and
# polyloss_device_check) in build-torch-only/: for a GPU machine whose only LibTorch is the one
# inside pip's PyTorch, with no Debian packages. Uses that LibTorch when python3 can import
# torch, else the system one.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B build-torch-only "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DPOLYTRAIN_WITH_SERVICE=OFF -DPOLYTRAIN_BUILD_TESTS=OFF ${prefix:+-DCMAKE_PREFIX_PATH="$prefix"} "$@"
cmake --build build-torch-only -j "$(nproc)"
