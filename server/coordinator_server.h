// Everything polytrain-coordinator runs, built from its options: the coordinator core (store,
// scheduler with its lease thread, APIs), the artifact store, access control, the two gRPC
// services on one port (with health checking, and reflection when asked for) and the Prometheus
// endpoint. Torn down in the reverse order: the gRPC server first.
#ifndef POLYTRAIN_SERVER_COORDINATOR_SERVER_H_
#define POLYTRAIN_SERVER_COORDINATOR_SERVER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "api/limits.h"
#include "common/grpc_security.h"
#include "common/metrics_http_server.h"
#include "grpcpp/server.h"
#include "prometheus/registry.h"
#include "server/access_control.h"
#include "server/coordinator_core.h"
#include "server/coordinator_metrics.h"
#include "server/coordinator_service_impl.h"
#include "server/job_retention.h"
#include "server/stream_idle_timer.h"
#include "server/token_authenticator.h"
#include "server/worker_service_impl.h"

namespace polytrain {

class CoordinatorServer {
 public:
  struct Options {
    std::string listen = "127.0.0.1:50051";  // port 0 picks a free one
    std::string db = "polytrain.db";
    std::string artifacts = "polytrain-artifacts";
    int64_t max_artifact_bytes = kDefaultMaxUploadBytes;  // one upload of a user's file
    // What a client token's artifact records may hold in all (ArtifactQuota).
    int64_t max_artifact_bytes_per_client = kDefaultMaxClientArtifactBytes;
    double lease_seconds = 30.0;  // workers heartbeat every third of it
    // A connection silent this long is pinged, and closed when the ping goes unanswered as long
    // again: a worker whose host died without a word is let go (its name freed, its jobs
    // leased out) in seconds, not after TCP's quarter of an hour.
    double keepalive_seconds = 20.0;
    double gang_backfill_seconds = 30.0;  // see Scheduler::Options
    WatchLimits watch;                    // WatchJob streams per caller, backlog
    ClientPolicy clients;                 // what a client token may ask for
    // An artifact upload (users' or workers') on which no chunk comes this long is ended.
    double transfer_idle_seconds = kDefaultTransferIdleSeconds;
    std::string metrics_listen = "127.0.0.1:9464";  // empty: no /metrics
    double job_series_retention_seconds = 600;
    int max_finished_job_series = 1000;
    // Ended jobs are deleted this many days after their end (record, history, checkpoints),
    // checked hourly; 0 keeps them until DeleteJob.
    double delete_ended_jobs_after_days = 0;
    ServerSecurityOptions security;
    std::string tokens_file;  // empty: no authentication, every caller is an admin
    // gRPC server reflection answers without a token, so it is off by default when there are
    // tokens (health checking always answers: it is for probes).
    std::optional<bool> reflection;
  };

  // INVALID_ARGUMENT naming the flag for a bad --db, --artifacts, --metrics_listen, TLS or tokens
  // file; UNAVAILABLE when --listen cannot be bound.
  static absl::StatusOr<std::unique_ptr<CoordinatorServer>> Start(const Options& options);
  ~CoordinatorServer();

  int port() const { return port_; }
  int metrics_port() const;
  // "port 50051 (plaintext, no tokens), db polytrain.db": for the start-up log line.
  std::string Describe() const;
  // Reads the --tokens file again (SIGHUP): every later call is checked against it, and the
  // streams of workers whose worker token is gone are closed; calls under way (a watch, an
  // upload) keep going. A file that does not parse leaves the tokens as they were. Returns what
  // was loaded, in words, for the log; FAILED_PRECONDITION without --tokens.
  absl::StatusOr<std::string> ReloadTokens();
  // Stops taking calls and finishes those in flight, waiting at most `grace_seconds`.
  void Shutdown(double grace_seconds);

 private:
  CoordinatorServer() = default;

  Options options_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<CoordinatorMetrics> metrics_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  std::unique_ptr<CoordinatorCore> core_;
  std::unique_ptr<JobRetention> retention_;  // before core_ in destruction: it uses the core
  std::shared_ptr<const TokenAuthenticator> tokens_;  // null without --tokens
  std::unique_ptr<AccessControl> access_;
  std::unique_ptr<CoordinatorServiceImpl> client_service_;
  std::unique_ptr<WorkerServiceImpl> worker_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_COORDINATOR_SERVER_H_
