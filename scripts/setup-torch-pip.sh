#!/usr/bin/env bash
# PyTorch's own LibTorch (2.x, built with CUDA) in a virtual environment, to build PolyTrain
# against instead of Debian's LibTorch 1.13 (CPU only): what a GPU worker runs. The version is
# pinned to the GPU machine's; the environment is kept in $POLYTRAIN_TORCH_VENV (default
# ~/.cache/polytrain/torch-<version>, about 4 GiB) and reused while it is complete. Prints the
# CMake prefix path of its LibTorch. scripts/build.sh and scripts/test.sh call it when
# POLYTRAIN_TORCH=pip.
set -euo pipefail
version=${POLYTRAIN_TORCH_VERSION:-2.11.0}
venv=${POLYTRAIN_TORCH_VENV:-$HOME/.cache/polytrain/torch-$version}

if ! /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; then
  echo "setup-torch-pip: installing python3-venv" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
if [[ ! -f "$venv/.complete" ]]; then
  echo "setup-torch-pip: installing torch==$version into $venv" >&2
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "torch==$version" >&2
  touch "$venv/.complete"
fi
"$venv/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)'
