# polytrain-coordinator on Debian 12, built with the same Debian packages as scripts/setup-deps.sh.
# Build from the repository root: docker build -f deploy/docker/coordinator.Dockerfile -t polytrain-coordinator .
FROM debian:bookworm AS build
RUN apt-get update
COPY scripts/ /src/scripts/
RUN /src/scripts/setup-deps.sh
COPY . /src
RUN cd /src && cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOLYTRAIN_BUILD_TESTS=OFF \
    -DPOLYTRAIN_BUILD_BENCH=OFF && cmake --build /build --target polytrain-coordinator polyctl

FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends libgrpc++1.51 libprotobuf32 \
    libsqlite3-0 libabsl20220623 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 zlib1g \
    libyaml-cpp0.7 libspdlog1.10 librsvg2-bin libssl3 openssl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/server/polytrain-coordinator /build/client/polyctl /usr/local/bin/
# docker-compose's `pki` service runs it to make development certificates and tokens.
COPY deploy/pki/make-dev-pki.sh /usr/local/bin/
VOLUME ["/var/lib/polytrain"]
# gRPC (clients and workers), Prometheus /metrics.
EXPOSE 50051 9464
# TLS with mutual TLS for workers and token authentication, from files mounted at
# /etc/polytrain/pki (deploy/pki/make-dev-pki.sh makes them; Kubernetes mounts a Secret).
ENTRYPOINT ["polytrain-coordinator"]
CMD ["--listen", "0.0.0.0:50051", "--metrics_listen", "0.0.0.0:9464", \
     "--db", "/var/lib/polytrain/polytrain.db", "--artifacts", "/var/lib/polytrain/artifacts", \
     "--tls_cert", "/etc/polytrain/pki/coordinator.pem", \
     "--tls_key", "/etc/polytrain/pki/coordinator.key", \
     "--tls_client_ca", "/etc/polytrain/pki/ca.pem", "--tokens", "/etc/polytrain/pki/tokens"]
