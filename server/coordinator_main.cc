// polytrain-coordinator: stores, schedules and serves training jobs over gRPC.
//
//   polytrain-coordinator --plaintext [--listen 127.0.0.1:50051] [--db polytrain.db] ...
//   polytrain-coordinator --listen 0.0.0.0:50051 --tls_cert C --tls_key K [--tls_client_ca CA]
//                         --tokens tokens.txt
//   polytrain-coordinator --hash_token < token   (prints the line part for a tokens file)
//
// Serves polytrain.v1.Coordinator (clients) and polytrain.v1.WorkerService (workers) on one
// port, with gRPC health checking and server reflection.
#include <csignal>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "common/grpc_security.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "server/access_control.h"
#include "server/coordinator.h"
#include "server/grpc_services.h"
#include "server/sqlite_job_store.h"
#include "server/token_authenticator.h"

namespace polytrain {
namespace {

constexpr int kMaxMessageBytes = 16 << 20;

int Main(int argc, char** argv) {
  CLI::App app{
      "polytrain-coordinator: stores training jobs in SQLite and schedules them onto the "
      "polytrain-worker processes that dial in.\n"
      "Example (this machine only): polytrain-coordinator --plaintext --db polytrain.db\n"
      "Example (a cluster): polytrain-coordinator --listen 0.0.0.0:50051 --tls_cert server.pem "
      "--tls_key server.key --tls_client_ca ca.pem --tokens tokens.txt"};
  app.footer(
      "Tokens file (--tokens): one 'ROLE NAME sha256:HEX' per line, ROLE one of client (own "
      "jobs), worker (worker protocol only), admin (everything); make the hash with "
      "'polytrain-coordinator --hash_token < token-file'. Without --tokens every caller is an "
      "admin.\n"
      "Exit codes: 0 after SIGINT/SIGTERM, 1 bad --db, --listen, TLS or tokens file, 2 bad "
      "command line.");
  std::string listen = "127.0.0.1:50051", db = "polytrain.db", port_file,
              artifacts = "polytrain-artifacts";
  Coordinator::Options options;
  app.add_option("--listen", listen, "address:port to serve on (port 0 picks a free one)")
      ->capture_default_str();
  app.add_option("--db", db, "SQLite database file (created if missing)")->capture_default_str();
  app.add_option("--artifacts", artifacts,
                 "directory for job artifacts (checkpoints uploaded by workers)")
      ->capture_default_str();
  app.add_option("--lease_seconds", options.lease_seconds,
                 "a running job is requeued when its worker is silent this long")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str();
  app.add_option("--port_file", port_file, "write the port actually bound here (for scripts)");
  std::string metrics_listen = "127.0.0.1:9464", metrics_port_file;
  double retention_seconds = 600;
  app.add_option("--metrics_listen", metrics_listen,
                 "serve Prometheus /metrics on address:port (port 0 picks one; empty: off)")
      ->capture_default_str();
  app.add_option("--metrics_port_file", metrics_port_file,
                 "write the /metrics port actually bound here");
  app.add_option("--job_series_retention_seconds", retention_seconds,
                 "keep a finished job's per-job series this long")
      ->check(CLI::Range(0.0, 86400.0 * 7))
      ->capture_default_str();
  int max_finished_series = 1000;
  app.add_option("--max_finished_job_series", max_finished_series,
                 "at most this many finished jobs keep their per-job series (oldest dropped)")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  ServerSecurityOptions security;
  AddServerSecurityFlags(app, &security);
  std::string tokens_path;
  app.add_option("--tokens", tokens_path,
                 "bearer tokens file (hashed, see below); without it no token is asked for");
  bool hash_token = false;
  app.add_flag("--hash_token", hash_token,
               "read a token on stdin, print its 'sha256:...' form for --tokens, and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    return 2;
  }
  if (hash_token) {
    std::string token;
    std::getline(std::cin, token);
    if (absl::Status s = CheckTokenShape(token); !s.ok()) {
      std::cerr << "polytrain-coordinator: " << s.message() << "\n";
      return 1;
    }
    std::cout << HashToken(token) << "\n";
    return 0;
  }
  options.heartbeat_seconds = options.lease_seconds / 3.0;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(security, listen);
  if (!credentials.ok()) {
    std::cerr << "polytrain-coordinator: " << credentials.status().message() << "\n";
    return 1;
  }
  std::optional<TokenAuthenticator> tokens;
  if (!tokens_path.empty()) {
    absl::StatusOr<TokenAuthenticator> read = TokenAuthenticator::ReadFile(tokens_path);
    if (!read.ok()) {
      std::cerr << "polytrain-coordinator: " << read.status().message() << "\n";
      return 1;
    }
    tokens = *std::move(read);
  }
  const AccessControl access(tokens.has_value() ? &*tokens : nullptr,
                             !security.tls_client_ca.empty());

  auto registry = std::make_shared<prometheus::Registry>();
  CoordinatorMetrics metrics(*registry,
                             std::chrono::duration_cast<CoordinatorMetrics::Clock::duration>(
                                 std::chrono::duration<double>(retention_seconds)),
                             static_cast<size_t>(max_finished_series));
  options.metrics = &metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  if (!metrics_listen.empty()) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(metrics_listen);
    } catch (const std::exception& e) {
      std::cerr << "polytrain-coordinator: --metrics_listen " << metrics_listen << ": " << e.what()
                << "\n";
      return 1;
    }
    exposer->RegisterCollectable(registry);
    if (!metrics_port_file.empty()) {
      std::ofstream(metrics_port_file) << exposer->GetListeningPorts().front() << "\n";
    }
  }

  absl::StatusOr<std::unique_ptr<SqliteJobStore>> store = SqliteJobStore::Open(db);
  if (!store.ok()) {
    std::cerr << "polytrain-coordinator: " << store.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<std::unique_ptr<Coordinator>> coordinator =
      Coordinator::Create(*std::move(store), options);
  if (!coordinator.ok()) {
    std::cerr << "polytrain-coordinator: " << coordinator.status().message() << "\n";
    return 1;
  }

  absl::StatusOr<std::unique_ptr<ArtifactStore>> artifact_store = ArtifactStore::Open(artifacts);
  if (!artifact_store.ok()) {
    std::cerr << "polytrain-coordinator: " << artifact_store.status().message() << "\n";
    return 1;
  }
  CoordinatorService client_service(coordinator->get(), &metrics, &access);
  WorkerStreamService worker_service(coordinator->get(), artifact_store->get(), &access);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, *credentials, &port);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  builder.RegisterService(&client_service);
  builder.RegisterService(&worker_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "polytrain-coordinator: cannot listen on " << listen << "\n";
    return 1;
  }
  if (!port_file.empty()) std::ofstream(port_file) << port << "\n";
  std::cerr << "polytrain-coordinator: serving on port " << port << " ("
            << (security.plaintext               ? "plaintext"
                : security.tls_client_ca.empty() ? "TLS"
                                                 : "TLS, workers need client certificates")
            << ", " << (tokens.has_value() ? absl::StrCat(tokens->size(), " tokens") : "no tokens")
            << "), db " << db << "\n";

  // Wait for SIGINT/SIGTERM, then drain.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  int received = 0;
  sigwait(&signals, &received);
  std::cerr << "polytrain-coordinator: shutting down\n";
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return 0;
}

}  // namespace
}  // namespace polytrain

int main(int argc, char** argv) { return polytrain::Main(argc, argv); }
