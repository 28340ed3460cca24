# polytrain-worker on Debian 12 (CPU, Debian's LibTorch 1.13 with OpenBLAS and Fashion-MNIST).
# Build from the repository root: docker build -f deploy/docker/worker.Dockerfile -t polytrain-worker .
#
# CUDA variant: Debian's libtorch-dev is CPU-only. Build FROM an image with the CUDA toolkit
# and PyTorch's own LibTorch (e.g. pip's torch, `python3 -c 'import torch;
# print(torch.utils.cmake_prefix_path)'`) passed as CMAKE_PREFIX_PATH, plus the protobuf, gRPC,
# absl and prometheus-cpp libraries the service parts need; run it with --device cuda and a GPU
# resource request (deploy/k8s/worker-gpu.yaml). Checked so far on the loss kernels only
# (scripts/build-torch-only.sh).
FROM debian:bookworm AS build
RUN apt-get update
COPY scripts/ /src/scripts/
RUN /src/scripts/setup-deps.sh
COPY . /src
RUN cd /src && cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOLYTRAIN_BUILD_TESTS=OFF \
    -DPOLYTRAIN_BUILD_BENCH=OFF && cmake --build /build --target polytrain-worker

FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends libtorch1.13 libopenblas0-pthread \
    libgrpc++1.51 libprotobuf32 libabsl20220623 libprometheus-cpp-core1.0 zlib1g \
    dataset-fashion-mnist && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/worker/polytrain-worker /usr/local/bin/
VOLUME ["/var/lib/polytrain-worker"]
# Prometheus /metrics.
EXPOSE 9465
ENTRYPOINT ["polytrain-worker", "--metrics_listen", "0.0.0.0:9465", \
            "--checkpoint_dir", "/var/lib/polytrain-worker/checkpoints"]
# TLS (the coordinator's CA, this worker's client certificate) and its worker token, from files
# mounted at /etc/polytrain/pki.
CMD ["--coordinator", "coordinator:50051", "--tls_ca", "/etc/polytrain/pki/ca.pem", \
     "--tls_cert", "/etc/polytrain/pki/worker.pem", "--tls_key", "/etc/polytrain/pki/worker.key", \
     "--token_file", "/etc/polytrain/pki/worker.token"]
