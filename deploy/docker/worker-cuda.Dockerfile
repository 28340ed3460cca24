# polytrain-worker for NVIDIA GPUs: PyTorch's LibTorch 2.11.0 built with CUDA 13.0 (its pip wheel,
# pinned by scripts/setup-torch-pip.sh) beside Debian 12's gRPC, protobuf, absl and
# prometheus-cpp: the same steps as `POLYTRAIN_TORCH=pip scripts/build.sh`.
#   docker build -f deploy/docker/worker-cuda.Dockerfile -t polytrain-worker-cuda .
#   docker run --gpus all polytrain-worker-cuda --coordinator HOST:50051 ...
# The host needs the NVIDIA driver and the NVIDIA Container Toolkit, which put the driver's
# libraries into the container. The wheel carries the CUDA runtime it was built with (cudart,
# cuBLAS, cuDNN, NCCL: the nvidia-* packages), so the image starts from Debian like the others
# rather than from an nvidia/cuda base that would hold a second CUDA; nvcc is never needed.
FROM debian:bookworm AS build
RUN apt-get update
COPY scripts/ /src/scripts/
RUN /src/scripts/setup-deps.sh && POLYTRAIN_TORCH_VENV=/opt/torch /src/scripts/setup-torch-pip.sh
COPY . /src
RUN cd /src && cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOLYTRAIN_BUILD_TESTS=OFF \
    -DPOLYTRAIN_BUILD_BENCH=OFF \
    -DCMAKE_PREFIX_PATH="$(POLYTRAIN_TORCH_VENV=/opt/torch /src/scripts/setup-torch-pip.sh)" \
    && cmake --build /build --target polytrain-worker

FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends libgrpc++1.51 libprotobuf32 \
    libabsl20220623 libprometheus-cpp-core1.0 libspdlog1.10 libyaml-cpp0.7 zlib1g \
    dataset-fashion-mnist && rm -rf /var/lib/apt/lists/*
# Only the libraries of the environment, at the path the binary was linked against (its RPATH).
COPY --from=build /opt/torch/lib/python3.11/site-packages/torch/lib \
     /opt/torch/lib/python3.11/site-packages/torch/lib
COPY --from=build /opt/torch/lib/python3.11/site-packages/nvidia \
     /opt/torch/lib/python3.11/site-packages/nvidia
COPY --from=build /build/worker/polytrain-worker /usr/local/bin/
ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility
VOLUME ["/var/lib/polytrain-worker"]
# Prometheus /metrics (with per-GPU memory and jobs).
EXPOSE 9465
ENTRYPOINT ["polytrain-worker", "--metrics_listen", "0.0.0.0:9465", \
            "--checkpoint_dir", "/var/lib/polytrain-worker/checkpoints", \
            "--artifact_cache_dir", "/var/lib/polytrain-worker/artifact-cache"]
# Every GPU the container sees, one job on each; TLS and the worker token as for the CPU image.
CMD ["--coordinator", "coordinator:50051", "--device", "cuda", \
     "--tls_ca", "/etc/polytrain/pki/ca.pem", "--tls_cert", "/etc/polytrain/pki/worker.pem", \
     "--tls_key", "/etc/polytrain/pki/worker.key", "--token_file", "/etc/polytrain/pki/worker.token"]
