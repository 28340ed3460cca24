// The coordinator without its network face: the job store, the scheduler over it, the search
// controller beside it, the read-only queries, the artifact store and users' artifact catalog over
// it, and the two APIs requests come through (ClientApi for clients, WorkerProtocol for workers),
// built in the order they depend on each other and torn down in reverse. The gRPC server
// (coordinator_server.h) wraps one; tests and the fuzzer drive one directly.
#ifndef POLYTRAIN_SERVER_COORDINATOR_CORE_H_
#define POLYTRAIN_SERVER_COORDINATOR_CORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "api/limits.h"
#include "common/exclusive_lock.h"
#include "server/artifact_catalog.h"
#include "server/artifact_store.h"
#include "server/client_api.h"
#include "server/job_queries.h"
#include "server/scheduler.h"
#include "server/search_controller.h"
#include "server/sqlite_job_store.h"
#include "server/worker_protocol.h"

namespace polytrain {

class CoordinatorCore {
 public:
  struct Artifacts {
    std::string dir;  // created if needed
    int64_t max_upload_bytes = kDefaultMaxUploadBytes;
    int64_t max_client_bytes = kDefaultMaxClientArtifactBytes;  // a client token's quota
  };

  // Opens (or creates) the SQLite database at `db` (":memory:" for none) and loads its queued
  // and running jobs into the scheduler. Without `artifacts` there is no artifact store: jobs
  // naming users' artifacts are refused. The database file and the artifacts' directory are
  // locked while this lives: FAILED_PRECONDITION when another coordinator has either.
  static absl::StatusOr<std::unique_ptr<CoordinatorCore>> Open(
      const std::string& db, const Scheduler::Options& options,
      const std::optional<Artifacts>& artifacts = std::nullopt, const ClientPolicy& policy = {});
  ~CoordinatorCore();

  JobStore& store() { return *store_; }
  Scheduler& scheduler() { return *scheduler_; }
  ClientApi& client_api() { return *client_api_; }
  WorkerProtocol& worker_protocol() { return *worker_protocol_; }
  // Null without an artifact store.
  ArtifactStore* artifact_store() { return artifact_store_.get(); }
  ArtifactCatalog* artifact_catalog() { return artifact_catalog_.get(); }

 private:
  CoordinatorCore() = default;

  std::unique_ptr<ExclusiveLock> artifacts_lock_;
  // Declared before store_, so destroyed after it: SQLite must have closed the file first
  // (closing any descriptor of the file drops SQLite's own POSIX locks).
  std::unique_ptr<ExclusiveLock> db_lock_;
  std::unique_ptr<SqliteJobStore> store_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<SearchController> searches_;
  std::unique_ptr<JobQueries> queries_;
  std::unique_ptr<ArtifactStore> artifact_store_;
  std::unique_ptr<ArtifactCatalog> artifact_catalog_;
  std::unique_ptr<ClientApi> client_api_;
  std::unique_ptr<WorkerProtocol> worker_protocol_;
};

}  // namespace polytrain

#endif  // POLYTRAIN_SERVER_COORDINATOR_CORE_H_
