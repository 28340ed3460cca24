#include "server/coordinator_server.h"

#include <dlfcn.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/limits.h"
#include "common/host_port.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "spdlog/spdlog.h"

namespace polytrain {

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(
    const Options& options) {
  // gRPC takes port 99999 as 99999 - 65536 without a word.
  if (absl::Status s = CheckHostPort("--listen", options.listen, 0, "(0 picks a free one)");
      !s.ok()) {
    return s;
  }
  std::unique_ptr<CoordinatorServer> s(new CoordinatorServer());
  s->options_ = options;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(options.security, options.listen);
  if (!credentials.ok()) return credentials.status();
  if (!options.tokens_file.empty()) {
    absl::StatusOr<TokenAuthenticator> tokens = TokenAuthenticator::ReadFile(options.tokens_file);
    if (!tokens.ok()) return tokens.status();
    s->tokens_ = std::make_shared<const TokenAuthenticator>(*std::move(tokens));
  }
  s->access_ = std::make_unique<AccessControl>(s->tokens_, !options.security.tls_client_ca.empty());

  s->registry_ = std::make_shared<prometheus::Registry>();
  s->metrics_ = std::make_unique<CoordinatorMetrics>(
      *s->registry_,
      std::chrono::duration_cast<CoordinatorMetrics::Clock::duration>(
          std::chrono::duration<double>(options.job_series_retention_seconds)),
      static_cast<size_t>(options.max_finished_job_series));
  s->access_->CountRefusalsWith(
      [metrics = s->metrics_.get()](const std::string& protocol, absl::StatusCode code) {
        metrics->AuthRefused(protocol, static_cast<int>(code));
      });
  if (!options.metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> metrics_http =
        MetricsHttpServer::Start(options.metrics_listen, s->registry_);
    if (!metrics_http.ok()) return metrics_http.status();
    s->metrics_http_ = *std::move(metrics_http);
  }

  Scheduler::Options scheduling;
  scheduling.lease_seconds = options.lease_seconds;
  scheduling.heartbeat_seconds = options.lease_seconds / 3.0;
  scheduling.gang_backfill_seconds = options.gang_backfill_seconds;
  scheduling.metrics = s->metrics_.get();
  scheduling.restored_leases_wait_for_serving = true;  // Serving() below, once the port is open
  // What this start creates goes again if it fails to listen: nothing is left half-set-up.
  std::error_code ignored;
  const bool db_existed = std::filesystem::exists(options.db, ignored);
  const bool artifacts_existed = std::filesystem::exists(options.artifacts, ignored);
  absl::StatusOr<std::unique_ptr<CoordinatorCore>> core = CoordinatorCore::Open(
      options.db, scheduling,
      CoordinatorCore::Artifacts{options.artifacts, options.max_artifact_bytes,
                                 options.max_artifact_bytes_per_client},
      options.clients);
  if (!core.ok()) return core.status();
  s->core_ = *std::move(core);

  s->client_service_ = std::make_unique<CoordinatorServiceImpl>(
      &s->core_->client_api(), s->metrics_.get(), s->access_.get(), options.watch,
      absl::Seconds(options.transfer_idle_seconds));
  s->worker_service_ = std::make_unique<WorkerServiceImpl>(
      &s->core_->worker_protocol(), s->core_->artifact_store(), s->access_.get(),
      absl::Seconds(options.transfer_idle_seconds));
  grpc::EnableDefaultHealthCheckService(true);
  if (options.reflection.value_or(s->tokens_ == nullptr)) {
    // gRPC's reflection library adds itself to every server built once it is loaded (a static
    // initializer), so it is loaded here, only when reflection is wanted: it answers without a
    // token.
    if (dlopen(POLYTRAIN_GRPC_REFLECTION_LIBRARY, RTLD_NOW | RTLD_GLOBAL) == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("--reflection: cannot load gRPC's reflection library: ", dlerror()));
    }
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, *credentials, &s->port_);
  // gRPC shares a port with SO_REUSEPORT by default: a second coordinator on the same port
  // would start, and clients and workers would be split between two stores without a word.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(static_cast<int>(kMaxMessageBytes));
  builder.SetMaxSendMessageSize(static_cast<int>(kMaxMessageBytes));
  const int keepalive_ms = static_cast<int>(options.keepalive_seconds * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, keepalive_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Clients ping every kClientKeepaliveSeconds; pings that often are welcome, not abuse.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             kClientKeepaliveSeconds * 1000 / 2);
  builder.RegisterService(s->client_service_.get());
  builder.RegisterService(s->worker_service_.get());
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    s->server_.reset();
    s->worker_service_.reset();
    s->client_service_.reset();
    s->core_.reset();  // closes the database and lets go of its locks
    if (!db_existed) {
      for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        std::filesystem::remove(options.db + suffix, ignored);
      }
    }
    if (!artifacts_existed) std::filesystem::remove_all(options.artifacts, ignored);
    return absl::UnavailableError(absl::StrCat(
        "--listen ", options.listen,
        ": cannot listen there (the port is in use, or the address is not this machine's)"));
  }
  s->core_->scheduler().Serving();
  if (options.delete_ended_jobs_after_days > 0) {
    s->retention_ = std::make_unique<JobRetention>(
        &s->core_->scheduler(), &s->core_->store(), s->core_->artifact_store(),
        std::chrono::duration_cast<JobRetention::Clock::duration>(
            std::chrono::duration<double>(options.delete_ended_jobs_after_days * 86400.0)));
    s->retention_->Start(std::chrono::hours(1));
    spdlog::info("retention: ended jobs are deleted {} days after their end (checked hourly)",
                 options.delete_ended_jobs_after_days);
  }
  return s;
}

CoordinatorServer::~CoordinatorServer() {
  if (server_ != nullptr) Shutdown(0);
}

int CoordinatorServer::metrics_port() const {
  return metrics_http_ == nullptr ? 0 : metrics_http_->port();
}

std::string CoordinatorServer::Describe() const {
  const ServerSecurityOptions& security = options_.security;
  const bool unix_socket = absl::StartsWith(options_.listen, "unix:");
  return absl::StrCat(unix_socket ? options_.listen : absl::StrCat("port ", port_), " (",
                      security.plaintext               ? "plaintext"
                      : security.tls_client_ca.empty() ? "TLS"
                                                       : "TLS, workers need client certificates",
                      ", ",
                      tokens_ != nullptr ? absl::StrCat(tokens_->size(),
                                                        tokens_->size() == 1 ? " token" : " tokens")
                                         : "no tokens",
                      "), db ", options_.db);
}

absl::StatusOr<std::string> CoordinatorServer::ReloadTokens() {
  if (options_.tokens_file.empty()) {
    return absl::FailedPreconditionError(
        "no --tokens file to reload: this coordinator runs without tokens");
  }
  absl::StatusOr<TokenAuthenticator> read = TokenAuthenticator::ReadFile(options_.tokens_file);
  if (!read.ok()) return read.status();
  auto tokens = std::make_shared<const TokenAuthenticator>(*std::move(read));
  access_->ReplaceTokens(tokens);
  tokens_ = tokens;
  const int closed = core_->scheduler().RevokeWorkerTokens(
      [tokens](const WorkerToken& token) { return tokens->HasWorkerToken(token.fingerprint); });
  return absl::StrCat(
      tokens->size(), tokens->size() == 1 ? " token" : " tokens", " from ", options_.tokens_file,
      closed == 0 ? ""
                  : absl::StrCat("; closed ", closed, " worker stream(s) whose token was revoked"));
}

void CoordinatorServer::Shutdown(double grace_seconds) {
  if (server_ == nullptr) return;
  if (retention_ != nullptr) retention_->Stop();
  // Workers' streams and watches of running jobs never end by themselves: ended now, they do
  // not hold the shutdown for its whole grace period. A worker redials after at least 0.1 s, by
  // when no call is taken.
  core_->scheduler().CloseStreamsForShutdown();
  server_->Shutdown(std::chrono::system_clock::now() +
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(
                        std::chrono::duration<double>(grace_seconds)));
  server_.reset();
}

}  // namespace polytrain
