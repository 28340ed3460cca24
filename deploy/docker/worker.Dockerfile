# polytrain-worker on Debian 12 (CPU, Debian's LibTorch 1.13 with OpenBLAS and Fashion-MNIST).
# Build from the repository root: docker build -f deploy/docker/worker.Dockerfile -t polytrain-worker .
# GPU workers use deploy/docker/worker-cuda.Dockerfile (PyTorch's LibTorch with CUDA).
FROM debian:bookworm AS build
RUN apt-get update
COPY scripts/ /src/scripts/
RUN /src/scripts/setup-deps.sh
COPY . /src
RUN cd /src && cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOLYTRAIN_BUILD_TESTS=OFF \
    -DPOLYTRAIN_BUILD_BENCH=OFF && cmake --build /build --target polytrain-worker

FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends libtorch1.13 libopenblas0-pthread \
    libgrpc++1.51 libprotobuf32 libabsl20220623 libprometheus-cpp-core1.0 libspdlog1.10 \
    libyaml-cpp0.7 zlib1g \
    dataset-fashion-mnist && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/worker/polytrain-worker /usr/local/bin/
VOLUME ["/var/lib/polytrain-worker"]
# Prometheus /metrics.
EXPOSE 9465
ENTRYPOINT ["polytrain-worker", "--metrics_listen", "0.0.0.0:9465", \
            "--checkpoint_dir", "/var/lib/polytrain-worker/checkpoints", \
            "--artifact_cache_dir", "/var/lib/polytrain-worker/artifact-cache"]
# TLS (the coordinator's CA, this worker's client certificate) and its worker token, from files
# mounted at /etc/polytrain/pki.
CMD ["--coordinator", "coordinator:50051", "--tls_ca", "/etc/polytrain/pki/ca.pem", \
     "--tls_cert", "/etc/polytrain/pki/worker.pem", "--tls_key", "/etc/polytrain/pki/worker.key", \
     "--token_file", "/etc/polytrain/pki/worker.token"]
