#!/usr/bin/env bash
# Installs every Debian package PolyTrain needs to build, test, benchmark and run its demo.
# A no-op (no apt-get call at all) when everything is already installed.
set -euo pipefail

PACKAGES=(
  # Toolchain and build.
  build-essential cmake ninja-build pkg-config ccache git clang-format
  # LibTorch (CPU) and the BLAS it should use: the reference BLAS is ~15x slower.
  libtorch-dev libopenblas0-pthread
  # Data-parallel jobs: the headers of the Gloo that LibTorch's c10d links (libgloo0).
  libgloo-dev
  # RPC, serialization, metrics, storage.
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  prometheus-cpp-dev libabsl-dev libsqlite3-dev
  # TLS credentials and token hashing; openssl makes the test certificates.
  libssl-dev openssl
  # Command line, logging, JSON output.
  libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libboost-dev
  # Charts: PNG output of polyctl --plot; YAML job specs.
  librsvg2-bin libyaml-cpp-dev
  # Tests and benchmarks.
  libgtest-dev libgmock-dev libbenchmark-dev python3-torch
  # Raw gRPC clients built from the protos alone (tests/raw_client_test.py).
  python3-grpcio python3-protobuf
  # libFuzzer harnesses and the ThreadSanitizer build (clang's runtimes).
  clang libclang-rt-14-dev
  # Real data and the real Prometheus server (integration tests).
  dataset-fashion-mnist prometheus
  # Deployment checks: docker-compose validates the compose file (no engine needed), PyYAML for
  # the manifests and dashboards tests (and the Python client's YAML spec files).
  docker-compose python3-yaml
  # Benchmark scripts.
  bc
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup-deps: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-deps: done" >&2
